"""The `usages` tool: precise Python usages (parso + jedi) and pattern-based other languages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent.config import HotfixConfig
from agent.redaction import Redactor
from tools.base import ToolContext, ToolError, ToolResult
from tools.workspace import usages
from tools.workspace.usages import UsagesArgs, UsagesTool, classify_line, symbol_name


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    _write(tmp_path, {
        ".gitignore": "generated/\n",
        "shop/__init__.py": "",
        "shop/cart.py": (
            "def cart_total(items):\n"
            "    return sum(items)\n"
            "\n"
            "\n"
            "def checkout(items):\n"
            "    return cart_total(items)\n"
        ),
        "shop/api.py": (
            "from shop.cart import cart_total\n"
            "\n"
            "\n"
            "def handle(request):\n"
            "    # cart_total is computed in cart.py\n"
            '    label = "cart_total"\n'
            "    return cart_total(request.items), label\n"
        ),
        "shop/report.py": "import shop.cart as c\n\nsummary = c.cart_total([1, 2])\n",
        "generated/copy.py": "def cart_total():\n    return 0\n",
        "web/cart.ts": (
            "export function cartTotal(items: number[]): number {\n"
            "  return items.reduce((a, b) => a + b, 0);\n"
            "}\n"
            "const shown = cartTotal([1]);\n"
        ),
        "svc/CartService.cs": (
            "public class CartService {\n"
            "    public int CartTotal(int[] items) {\n"
            "        return items.Sum();\n"
            "    }\n"
            "    public int Twice(int[] items) => CartTotal(items) * 2;\n"
            "}\n"
        ),
        "svc/cart.go": (
            "package svc\n\nfunc CartTotal(items []int) int {\n\treturn 0\n}\n\n"
            "var x = CartTotal(nil)\n"
        ),
    })  # fmt: skip
    return tmp_path


def _usages(workspace: Path, symbol: str) -> ToolResult:
    ctx = ToolContext(workspace=workspace, config=HotfixConfig(), redactor=Redactor())
    tool = UsagesTool()
    return asyncio.run(tool.run(UsagesArgs(symbol=symbol), ctx))


def _results(result: ToolResult) -> list[dict[str, Any]]:
    assert result.data is not None
    return result.data["results"]


def _where(results: list[dict[str, Any]], kind: str) -> set[tuple[str, int]]:
    return {(r["path"], r["line"]) for r in results if r["kind"] == kind}


def test_python_definition_and_references_are_found_precisely(shop: Path) -> None:
    results = _results(_usages(shop, "cart_total"))

    assert _where(results, "definition") == {("shop/cart.py", 1)}
    assert _where(results, "reference") == {
        ("shop/cart.py", 6),
        ("shop/api.py", 1),  # the import refers to the definition
        ("shop/api.py", 7),
        ("shop/report.py", 3),
    }
    # The comment (line 5), the string (line 6) and the ignored copy are not usages.
    assert not [r for r in results if r["path"].startswith("generated/")]


def test_results_carry_columns_text_and_definition_type(shop: Path) -> None:
    result = _usages(shop, "cart_total")

    definition = next(r for r in _results(result) if r["kind"] == "definition")
    assert definition["column"] == 5
    assert definition["type"] == "function"
    assert definition["text"] == "def cart_total(items):"
    assert "shop/api.py:7:12: return cart_total(request.items), label" in result.text
    assert result.data is not None
    assert (result.data["definitions"], result.data["references"]) == (1, 4)


def test_references_say_which_of_several_same_name_definitions_they_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The resolution budget keeps the tool fast on big trees; on a loaded CI machine jedi's
    # first inference alone can exceed it, and this test is about correctness, not speed.
    monkeypatch.setattr("tools.workspace.usages._RESOLVE_BUDGET_S", 30.0)
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/json_io.py": "def load(path):\n    return path\n",
        "pkg/yaml_io.py": "def load(path):\n    return path\n",
        "pkg/use.py": "from pkg.yaml_io import load\n\nconfig = load('a.yaml')\n",
    })  # fmt: skip

    results = _results(_usages(tmp_path, "load"))

    assert _where(results, "definition") == {("pkg/json_io.py", 1), ("pkg/yaml_io.py", 1)}
    call = next(r for r in results if (r["path"], r["line"]) == ("pkg/use.py", 3))
    assert call["kind"] == "reference"
    assert call["target"] == "pkg/yaml_io.py:1"


def test_typescript_csharp_and_go_definitions_are_recognised(shop: Path) -> None:
    ts = _results(_usages(shop, "cartTotal"))
    assert _where(ts, "definition") == {("web/cart.ts", 1)}
    assert _where(ts, "reference") == {("web/cart.ts", 4)}

    other = _results(_usages(shop, "CartTotal"))
    assert _where(other, "definition") == {("svc/CartService.cs", 2), ("svc/cart.go", 3)}
    assert _where(other, "reference") == {("svc/CartService.cs", 5), ("svc/cart.go", 7)}


def test_qualified_symbol_searches_its_last_part(shop: Path) -> None:
    results = _results(_usages(shop, "cart.checkout"))

    assert _where(results, "definition") == {("shop/cart.py", 5)}


def test_unknown_symbol_reports_nothing_found(shop: Path) -> None:
    result = _usages(shop, "does_not_exist")

    assert _results(result) == []
    assert "No definitions or references" in result.text


def test_a_symbol_must_be_an_identifier() -> None:
    assert symbol_name("Cart.total()") == "total"
    assert symbol_name("ns::render") == "render"
    with pytest.raises(ToolError, match="not a symbol name"):
        symbol_name("cart total")


@pytest.mark.parametrize(
    ("path", "line", "kind"),
    [
        ("a.js", "const handler = async (req) => {", "definition"),
        ("a.ts", "  async handler(req: Request): Promise<void> {", "definition"),
        ("a.ts", "  await handler(req);", "reference"),
        ("a.cs", "    private static Task<int> handler(int x)", "definition"),
        ("a.cs", "        var y = handler(3);", "reference"),
        ("a.go", "func (s *Server) handler(w http.ResponseWriter) {", "definition"),
        ("a.rs", "pub fn handler() -> u8 {", "definition"),
        ("a.c", "#define handler 3", "definition"),
        ("a.py", "handler = make_handler()", "definition"),
        ("a.txt", "call handler later", "reference"),
    ],
)
def test_definition_patterns_per_language(path: str, line: str, kind: str) -> None:
    assert classify_line(path, line, "handler") == kind


def test_search_stops_at_the_hit_limit_and_says_results_are_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usages, "MAX_HITS", 3)
    _write(tmp_path, {"notes.txt": "".join(f"retry {n}\n" for n in range(50))})

    result = _usages(tmp_path, "retry")

    assert result.data is not None and result.data["truncated"] is True
    assert len(_results(result)) < 50
    assert "results are partial" in result.text
