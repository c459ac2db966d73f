"""The `codebase` tool: ranked search over a real small workspace with the real rg."""

from __future__ import annotations

import asyncio
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from agent.config import HotfixConfig
from agent.redaction import Redactor
from tools.base import ToolContext, ToolError, ToolResult
from tools.workspace import _ripgrep
from tools.workspace.codebase import CodebaseArgs, CodebaseTool, extract_terms


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    _write(tmp_path, {
        ".gitignore": "generated/\n",
        "shop/cart.py": (
            "def cart_total(items: list[int]) -> int:\n"
            '    """Sum of prices; an empty cart costs nothing."""\n'
            "    return sum(items)\n"
            "\n"
            "\n"
            "class Checkout:\n"
            "    def submit(self, items: list[int]) -> int:\n"
            "        if not items:\n"
            '            raise ValueError("empty cart")\n'
            "        return cart_total(items)\n"
        ),
        "shop/api.py": (
            "from shop.cart import Checkout\n"
            "\n"
            "def handle(items):\n"
            "    return Checkout().submit(items)  # the checkout endpoint\n"
        ),
        "docs/notes.md": "The cart page.\nMore about the cart.\nCart again.\n",
        "generated/cart_total_copy.py": "def cart_total():\n    return 'checkout empty cart'\n",
        ".hotfix/runs/r1/journal.jsonl": '{"note": "cart_total checkout empty cart"}\n',
    })  # fmt: skip
    return tmp_path


def _search(workspace: Path, redactor: Redactor | None = None, **args: Any) -> ToolResult:
    ctx = ToolContext(workspace=workspace, config=HotfixConfig(), redactor=redactor or Redactor())
    tool = CodebaseTool()
    return asyncio.run(tool.run(CodebaseArgs(**args), ctx))


def _paths(result: ToolResult) -> list[str]:
    assert result.data is not None
    return [f["path"] for f in result.data["files"]]


def test_file_defining_the_queried_function_ranks_first(shop: Path) -> None:
    result = _search(shop, query="where is the cart total computed for an empty cart")

    assert _paths(result)[0] == "shop/cart.py"
    assert result.data is not None
    assert result.data["terms"] == ["cart", "total", "computed", "empty"]
    assert {"cart", "total", "empty"} <= set(result.data["files"][0]["terms"])


def test_definition_beats_a_file_that_only_repeats_the_term(shop: Path) -> None:
    result = _search(shop, query="Checkout")

    paths = _paths(result)
    assert paths.index("shop/cart.py") < paths.index("shop/api.py")
    assert result.data is not None
    assert result.data["files"][0]["definitions"] == ["checkout"]


def test_gitignored_and_hotfix_files_are_not_searched(shop: Path) -> None:
    result = _search(shop, query="cart_total checkout empty cart")

    paths = _paths(result)
    assert "shop/cart.py" in paths
    assert not [p for p in paths if p.startswith(("generated/", ".hotfix/"))]
    assert "generated/" not in result.text and ".hotfix/" not in result.text


def test_results_list_matching_lines_as_path_line_text(shop: Path) -> None:
    result = _search(shop, query="cart_total")

    assert "shop/cart.py:1: def cart_total(items: list[int]) -> int:" in result.text
    assert result.data is not None
    first = result.data["files"][0]
    assert {"line": 1, "text": "def cart_total(items: list[int]) -> int:"} in first["matches"]


def test_file_name_matching_a_term_counts(shop: Path) -> None:
    # docs/notes.md says "cart" three times; shop/cart.py is named after it.
    result = _search(shop, query="cart")

    paths = _paths(result)
    assert paths.index("shop/cart.py") < paths.index("docs/notes.md")


def test_tests_rank_below_the_code_they_test(tmp_path: Path) -> None:
    _write(tmp_path, {
        "src/pricing.py": "def discount(total):\n    return total * 0.9\n",
        "tests/test_discount.py": (
            "from src.pricing import discount\n\n"
            "def test_discount_is_ten_percent():\n    assert discount(100) == 90\n\n"
            "def test_discount_of_zero():\n    assert discount(0) == 0\n"
        ),
    })  # fmt: skip

    assert _paths(_search(tmp_path, query="discount")) == [
        "src/pricing.py",
        "tests/test_discount.py",
    ]


def test_numbers_do_not_match_inside_longer_numbers(tmp_path: Path) -> None:
    _write(tmp_path, {"a.py": "status = 500\n", "b.py": "limit = 15000\n"})

    result = _search(tmp_path, query="500")

    assert _paths(result) == ["a.py"]


def test_max_results_limits_the_listed_files(shop: Path) -> None:
    result = _search(shop, query="cart", max_results=1)

    assert len(_paths(result)) == 1
    assert result.data is not None
    assert result.data["total_files"] >= 3


def test_no_match_says_so(shop: Path) -> None:
    result = _search(shop, query="kubernetes")

    assert _paths(result) == []
    assert "No files" in result.text


def test_secrets_in_matching_lines_are_masked(tmp_path: Path) -> None:
    _write(tmp_path, {"settings.py": 'PAYMENT_KEY = "canary-Zq81-payment"\n'})

    result = _search(tmp_path, Redactor(["canary-Zq81-payment"]), query="PAYMENT_KEY")

    assert "canary-Zq81-payment" not in result.text
    assert "canary-Zq81-payment" not in str(result.data)
    assert "[REDACTED]" in result.text


def test_stop_words_are_dropped_and_quoted_phrases_kept() -> None:
    assert extract_terms('where is the "empty cart" handled in checkout?') == [
        "empty cart",
        "handled",
        "checkout",
    ]
    assert extract_terms("the") == ["the"]  # nothing but stop words: search them anyway
    assert extract_terms("??") == []


def test_query_without_words_is_an_error(shop: Path) -> None:
    with pytest.raises(ToolError, match="no searchable words"):
        _search(shop, query="?!")


def test_missing_rg_is_a_clear_error(
    shop: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path_factory.mktemp("nobin")
    monkeypatch.setattr(_ripgrep.sys, "executable", str(empty / "python"))
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(empty))
    monkeypatch.setenv("PATH", str(empty))

    with pytest.raises(ToolError, match="ripgrep"):
        _search(shop, query="cart")
