"""The `readFile` tool: numbered lines, ranges, and confinement to the workspace."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.config import HotfixConfig, LimitsConfig
from agent.redaction import Redactor
from tools.base import ToolContext, ToolError, ToolResult
from tools.workspace.read_file import LARGE_FILE_BYTES, MAX_LINES, ReadFileArgs, ReadFileTool


def _read(workspace: Path, config: HotfixConfig | None = None, **args: Any) -> ToolResult:
    ctx = ToolContext(
        workspace=workspace,
        config=config or HotfixConfig(),
        redactor=Redactor(["canary-Zq81-db-password"]),
    )
    tool = ReadFileTool()
    return asyncio.run(tool.run(ReadFileArgs(**args), ctx))


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    return root


def test_whole_file_is_returned_with_line_numbers(workspace: Path) -> None:
    result = _read(workspace, path="src/app.py")

    assert result.text.splitlines()[0] == "src/app.py (lines 1-10 of 10)"
    assert " 1\tline 1" in result.text
    assert "10\tline 10" in result.text
    assert result.data == {
        "path": "src/app.py", "start_line": 1, "end_line": 10, "total_lines": 10,
        "truncated": False,
    }  # fmt: skip


def test_line_range_is_one_based_and_inclusive(workspace: Path) -> None:
    result = _read(workspace, path="src/app.py", start_line=3, end_line=5)

    body = result.text.splitlines()[1:]
    assert body[:3] == ["3\tline 3", "4\tline 4", "5\tline 5"]
    assert "line 6" not in result.text and "line 2" not in result.text


def test_range_starting_beyond_the_file_is_a_clear_error(workspace: Path) -> None:
    with pytest.raises(ToolError, match=r"start_line 11 is beyond the end .* has 10 lines"):
        _read(workspace, path="src/app.py", start_line=11, end_line=20)


def test_range_ending_beyond_the_file_is_clamped_with_a_note(workspace: Path) -> None:
    result = _read(workspace, path="src/app.py", start_line=9, end_line=50)

    assert "10\tline 10" in result.text
    assert "end_line 50 is past the end; the file has 10 lines" in result.text


def test_end_before_start_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ReadFileArgs(path="a.py", start_line=5, end_line=2)


def test_dotdot_escape_is_refused(workspace: Path) -> None:
    (workspace.parent / "outside.txt").write_text("secret\n")

    with pytest.raises(ToolError, match="outside the workspace"):
        _read(workspace, path="../outside.txt")


def test_dotdot_that_stays_inside_is_allowed(workspace: Path) -> None:
    result = _read(workspace, path="src/../src/app.py", start_line=1, end_line=1)

    assert "line 1" in result.text


def test_absolute_path_is_allowed_only_inside_the_workspace(workspace: Path) -> None:
    inside = _read(workspace, path=str(workspace / "src" / "app.py"), end_line=1)
    assert "line 1" in inside.text

    with pytest.raises(ToolError, match="outside the workspace"):
        _read(workspace, path="/etc/hostname")


def test_symlink_pointing_outside_is_refused(workspace: Path) -> None:
    target = workspace.parent / "elsewhere.txt"
    target.write_text("not yours\n")
    (workspace / "link.txt").symlink_to(target)

    with pytest.raises(ToolError, match="outside the workspace"):
        _read(workspace, path="link.txt")


def test_symlink_inside_the_workspace_is_followed(workspace: Path) -> None:
    (workspace / "alias.py").symlink_to(workspace / "src" / "app.py")

    assert "line 1" in _read(workspace, path="alias.py").text


def test_binary_file_is_refused(workspace: Path) -> None:
    (workspace / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))

    with pytest.raises(ToolError, match="binary file"):
        _read(workspace, path="logo.png")


def test_missing_file_is_a_clear_error(workspace: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        _read(workspace, path="src/nope.py")


def test_large_file_is_read_only_by_line_range(workspace: Path) -> None:
    line = "x" * 99 + "\n"
    (workspace / "big.log").write_text(line * (LARGE_FILE_BYTES // 100 + 10))

    with pytest.raises(ToolError, match="pass start_line and end_line"):
        _read(workspace, path="big.log")
    result = _read(workspace, path="big.log", start_line=20_000, end_line=20_002)
    assert result.data is not None
    assert (result.data["start_line"], result.data["end_line"]) == (20_000, 20_002)
    assert result.data["total_lines"] == LARGE_FILE_BYTES // 100 + 10


def test_long_file_without_range_stops_with_a_continuation_hint(workspace: Path) -> None:
    (workspace / "long.txt").write_text("".join(f"row {n}\n" for n in range(1, 2501)))

    result = _read(workspace, path="long.txt")

    assert f"row {MAX_LINES}" in result.text
    assert f"row {MAX_LINES + 1}" not in result.text
    assert f"continue with start_line={MAX_LINES + 1}" in result.text
    assert result.data is not None and result.data["truncated"] is True


def test_output_is_cut_to_the_configured_size_with_a_hint(workspace: Path) -> None:
    (workspace / "wide.txt").write_text("".join(f"{n} " + "y" * 50 + "\n" for n in range(1, 200)))
    config = HotfixConfig(limits=LimitsConfig(tool_output_chars=1000))

    result = _read(workspace, config, path="wide.txt")

    assert len(result.text) < 1200
    assert result.data is not None
    last = result.data["end_line"]
    assert f"continue with start_line={last + 1}" in result.text
    assert f"\n{last:>3}\t{last} " in result.text


def test_files_under_hotfix_are_readable(workspace: Path) -> None:
    run = workspace / ".hotfix" / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "report.md").write_text("# Report\n")

    assert "# Report" in _read(workspace, path=".hotfix/runs/r1/report.md").text


def test_known_secret_values_are_masked(workspace: Path) -> None:
    (workspace / ".env").write_text("DB_PASSWORD=canary-Zq81-db-password\n")

    result = _read(workspace, path=".env")

    assert "canary-Zq81-db-password" not in result.text
    assert "[REDACTED]" in result.text


def test_directory_lists_its_entries_as_an_error(workspace: Path) -> None:
    result = _read(workspace, path="src")

    assert result.is_error
    assert "app.py" in result.text
