"""Output parsers of the `problems` tool, on output captured from the real tools."""

from __future__ import annotations

from tools.workspace._diagnostics import (
    Problem,
    parse_auto,
    parse_colon_style,
    parse_dotnet,
    parse_eslint,
    parse_pyright,
    parse_pytest,
    parse_ruff,
)

PYTEST_LONG = """\
F.FF                                                                     [100%]
=================================== FAILURES ===================================
__________________________________ test_empty __________________________________

    def test_empty():
>       assert total([]) == 0
E       assert 1 == 0
E        +  where 1 = total([])

tests/test_cart.py:8: AssertionError
___________________________ TestThing.test_helper[1] ___________________________

self = <test_cart.TestThing object at 0x7f629d81fc10>, x = 1

    @pytest.mark.parametrize("x", [1, 2])
    def test_helper(self, x):
>       helper(x)

tests/test_cart.py:18: \n\
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \n\

x = 1

    def helper(x):
>       raise ValueError("bad value %s" % x)
E       ValueError: bad value 1

src/cart.py:8: ValueError
=========================== short test summary info ============================
FAILED tests/test_cart.py::test_empty - assert 1 == 0
FAILED tests/test_cart.py::TestThing::test_helper[1] - ValueError: bad value 1
2 failed, 1 passed in 1.65s
"""

PYTEST_SHORT_WITH_COLLECTION_ERROR = """\
==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_broken.py _____________________
ImportError while importing test module '/tmp/pp/tests/test_broken.py'.
Traceback:
/usr/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
tests/test_broken.py:1: in <module>
    import nonexistent_mod
E   ModuleNotFoundError: No module named 'nonexistent_mod'
=================================== FAILURES ===================================
__________________________________ test_empty __________________________________
tests/test_cart.py:8: in test_empty
    assert total([]) == 0
E   assert 1 == 0
=========================== short test summary info ============================
FAILED tests/test_cart.py::test_empty - assert 1 == 0
ERROR tests/test_broken.py
1 failed, 1 error in 1.77s
"""

RUFF = """\
bad.py:2:8: invalid-syntax: Expected `)`, found newline
lint.py:1:8: F401 [*] `os` imported but unused
lint.py:8:1: E741 Ambiguous variable name: `l`
Found 3 errors.
[*] 1 fixable with `--fix`.
"""

PYRIGHT = """\
/work/app/lint.py
  /work/app/lint.py:5:12 - error: Type "int" is not assignable to return type "str"
    "int" is not assignable to "str" (reportReturnType)
  /work/app/lint.py:9:1 - warning: Import "yaml" could not be resolved from source \
(reportMissingModuleSource)
2 errors, 1 warning, 0 informations
"""

MYPY = """\
src/app.py:12: error: Incompatible return value type (got "int", expected "str")  [return-value]
src/app.py:20:5: error: Name "foo" is not defined  [name-defined]
src/app.py:21: note: Revealed type is "builtins.int"
Found 2 errors in 1 file (checked 3 source files)
"""

GCC = """\
m.c: In function 'main':
m.c:4:18: error: 'y' undeclared (first use in this function)
    4 |   printf("%d\\n", y);
      |                  ^
m.c:5:10: warning: returning 'char *' from a function with return type 'int' makes integer \
from pointer without a cast [-Wint-conversion]
"""

DOTNET = """\
  Determining projects to restore...
  All projects are up-to-date for restore.
/home/u/shop/Cart.cs(14,17): error CS0103: The name 'totl' does not exist in the current \
context [/home/u/shop/Shop.csproj]
/home/u/shop/Cart.cs(3,7): warning CS0105: The using directive for 'System' appeared \
previously in this namespace [/home/u/shop/Shop.csproj]
CSC : error CS5001: Program does not contain a static 'Main' method suitable for an entry \
point [/home/u/shop/Shop.csproj]

Build FAILED.

/home/u/shop/Cart.cs(14,17): error CS0103: The name 'totl' does not exist in the current \
context [/home/u/shop/Shop.csproj]
    1 Warning(s)
    2 Error(s)
"""

ESLINT = """\
/home/u/web/src/cart.js:10:7: 'unused' is assigned a value but never used. \
[Error/no-unused-vars]
/home/u/web/src/cart.js:14:1: Unexpected console statement. [Warning/no-console]
/home/u/web/src/bad.js:3:5: Parsing error: Unexpected token [Error]

3 problems
"""


def _where(problems: list[Problem]) -> list[tuple[str | None, int | None, int | None, str]]:
    return [(p.file, p.line, p.column, p.severity) for p in problems]


def test_pytest_failures_are_located_at_the_deepest_workspace_frame() -> None:
    problems = parse_pytest(PYTEST_LONG, "pytest")

    assert _where(problems) == [
        ("tests/test_cart.py", 8, None, "error"),
        ("src/cart.py", 8, None, "error"),
    ]
    assert problems[0].message == "FAILED tests/test_cart.py::test_empty - assert 1 == 0"
    assert "TestThing::test_helper[1] - ValueError: bad value 1" in problems[1].message


def test_pytest_collection_errors_take_their_message_from_the_traceback() -> None:
    problems = parse_pytest(PYTEST_SHORT_WITH_COLLECTION_ERROR, "pytest")

    assert _where(problems) == [
        ("tests/test_cart.py", 8, None, "error"),
        ("tests/test_broken.py", 1, None, "error"),
    ]
    assert problems[1].message == (
        "ERROR tests/test_broken.py - ModuleNotFoundError: No module named 'nonexistent_mod'"
    )


def test_ruff_concise_lines_give_code_and_syntax_errors() -> None:
    problems = parse_ruff(RUFF, "ruff")

    assert _where(problems) == [
        ("bad.py", 2, 8, "error"),
        ("lint.py", 1, 8, "warning"),
        ("lint.py", 8, 1, "warning"),
    ]
    assert [p.code for p in problems] == ["invalid-syntax", "F401", "E741"]
    assert problems[1].message == "`os` imported but unused"


def test_pyright_messages_keep_continuation_lines_and_rule() -> None:
    problems = parse_pyright(PYRIGHT, "pyright")

    assert _where(problems) == [
        ("/work/app/lint.py", 5, 12, "error"),
        ("/work/app/lint.py", 9, 1, "warning"),
    ]
    assert problems[0].code == "reportReturnType"
    assert problems[0].message == (
        'Type "int" is not assignable to return type "str"\n"int" is not assignable to "str"'
    )
    assert problems[1].code == "reportMissingModuleSource"


def test_mypy_lines_with_and_without_columns() -> None:
    problems = parse_colon_style(MYPY, "mypy")

    assert _where(problems) == [
        ("src/app.py", 12, None, "error"),
        ("src/app.py", 20, 5, "error"),
        ("src/app.py", 21, None, "info"),
    ]
    assert [p.code for p in problems] == ["return-value", "name-defined", None]


def test_gcc_errors_and_warnings_with_flags() -> None:
    problems = parse_colon_style(GCC, "gcc")

    assert _where(problems) == [("m.c", 4, 18, "error"), ("m.c", 5, 10, "warning")]
    assert problems[1].code == "-Wint-conversion"


def test_msbuild_diagnostics_are_deduplicated_and_tool_errors_have_no_file() -> None:
    problems = parse_dotnet(DOTNET, "dotnet")

    assert _where(problems) == [
        ("/home/u/shop/Cart.cs", 14, 17, "error"),
        ("/home/u/shop/Cart.cs", 3, 7, "warning"),
        (None, None, None, "error"),
    ]
    assert [p.code for p in problems] == ["CS0103", "CS0105", "CS5001"]
    assert problems[0].message == "The name 'totl' does not exist in the current context"


def test_eslint_unix_format_with_and_without_rule() -> None:
    problems = parse_eslint(ESLINT, "eslint")

    assert _where(problems) == [
        ("/home/u/web/src/cart.js", 10, 7, "error"),
        ("/home/u/web/src/cart.js", 14, 1, "warning"),
        ("/home/u/web/src/bad.js", 3, 5, "error"),
    ]
    assert [p.code for p in problems] == ["no-unused-vars", "no-console", None]


def test_auto_parses_a_mixed_log_once_per_problem() -> None:
    problems = parse_auto(RUFF + MYPY + DOTNET + PYTEST_LONG, "ci")

    assert len(problems) == 3 + 3 + 3 + 2
    assert {p.source for p in problems} == {"ci"}


def test_unrelated_output_yields_no_problems() -> None:
    assert parse_auto("All checks passed!\n3 passed in 0.12s\n", "x") == []
