"""The `problems` tool: real commands run in a real workspace, their output parsed."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from pathlib import Path

import pytest

from agent.config import HotfixConfig, ProblemCommand, ProblemsConfig
from agent.redaction import Redactor
from tools.base import ToolContext, ToolResult
from tools.workspace.problems import ProblemsArgs, ProblemsTool, detect_commands


def _problems(
    workspace: Path, commands: list[ProblemCommand] | None = None, redactor: Redactor | None = None
) -> ToolResult:
    config = HotfixConfig(problems=ProblemsConfig(commands=commands or []))
    ctx = ToolContext(workspace=workspace, config=config, redactor=redactor or Redactor())
    tool = ProblemsTool()
    return asyncio.run(tool.run(ProblemsArgs(), ctx))


def _python(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


@pytest.mark.slow
def test_failing_pytest_test_is_reported_at_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(
        "def test_sum():\n    total = 1 + 1\n    assert total == 3\n\n\ndef test_ok():\n    pass\n"
    )

    result = _problems(tmp_path)

    assert result.data is not None
    assert result.data["origin"] == "detected"
    assert [c["name"] for c in result.data["commands"]] == ["pytest"]
    assert result.data["commands"][0]["exit_code"] == 1
    [problem] = result.data["problems"]
    assert (problem["file"], problem["line"], problem["severity"]) == (
        "tests/test_calc.py", 3, "error",
    )  # fmt: skip
    assert problem["message"] == "FAILED tests/test_calc.py::test_sum - assert 2 == 3"
    assert "tests/test_calc.py:3: error FAILED tests/test_calc.py::test_sum" in result.text
    assert "1 failed, 1 passed" in result.text


def test_ruff_is_detected_from_its_configuration_and_reports_lint(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff]\nlint.select = ["F"]\n')
    (tmp_path / "app.py").write_text("import os\n\nx = 1\n")

    result = _problems(tmp_path)

    assert result.data is not None
    assert [c["name"] for c in result.data["commands"]] == ["ruff"]
    problems = result.data["problems"]
    assert [(p["file"], p["line"], p["column"], p["code"]) for p in problems] == [
        ("app.py", 1, 8, "F401")
    ]
    assert not (tmp_path / ".ruff_cache").exists()  # a read leaves no cache behind


def test_configured_commands_replace_detection_and_use_their_parser(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    assert False\n")
    script = "print('src/m.c:4:18: error: y undeclared'); raise SystemExit(1)"
    command = ProblemCommand(name="cc", command=_python(script), parser="gcc")

    result = _problems(tmp_path, [command])

    assert result.data is not None
    assert result.data["origin"] == "configured"
    assert [c["name"] for c in result.data["commands"]] == ["cc"]
    assert result.data["problems"] == [{
        "source": "cc", "file": "src/m.c", "line": 4, "column": 18, "severity": "error",
        "message": "y undeclared", "code": None,
    }]  # fmt: skip
    assert "- cc: exit 1" in result.text


def test_python_placeholder_runs_the_workspace_interpreter(tmp_path: Path) -> None:
    script = "import sys; print('x.py:1:1: error: ran ' + sys.executable)"
    command = ProblemCommand(name="py", command="{python} -c " + shlex.quote(script), parser="gcc")

    result = _problems(tmp_path, [command])

    assert result.data is not None
    assert result.data["problems"][0]["message"] == f"ran {sys.executable}"


def test_secret_environment_variables_do_not_reach_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENTS_API_TOKEN", "tok-canary-998877")
    monkeypatch.setenv("SHOP_REGION", "westeurope")
    script = (
        "import os; print('a.py:1:1: error: token=' + os.environ.get('PAYMENTS_API_TOKEN', "
        "'absent') + ' region=' + os.environ.get('SHOP_REGION', 'absent'))"
    )
    command = ProblemCommand(name="env", command=_python(script), parser="gcc")

    result = _problems(tmp_path, [command])

    assert result.data is not None
    assert result.data["problems"][0]["message"] == "token=absent region=westeurope"


def test_output_is_redacted(tmp_path: Path) -> None:
    script = "print('a.py:1:1: error: connecting with canary-Zq81-secret'); raise SystemExit(2)"
    command = ProblemCommand(name="x", command=_python(script), parser="gcc")

    result = _problems(tmp_path, [command], Redactor(["canary-Zq81-secret"]))

    assert "canary-Zq81-secret" not in result.text
    assert "canary-Zq81-secret" not in str(result.data)


def test_unparsed_failure_shows_the_output_tail(tmp_path: Path) -> None:
    script = "print('step 1 ok'); print('boom: database unreachable'); raise SystemExit(3)"
    command = ProblemCommand(name="smoke", command=_python(script), parser="plain")

    result = _problems(tmp_path, [command])

    assert "- smoke: exit 3" in result.text
    assert "Last lines of smoke's output:\nstep 1 ok\nboom: database unreachable" in result.text


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    command = ProblemCommand(name="hang", command=_python(script), parser="plain", timeout_s=2.0)

    started = time.monotonic()
    result = _problems(tmp_path, [command])

    assert time.monotonic() - started < 10
    assert result.data is not None
    run = result.data["commands"][0]
    assert run["timed_out"] is True and run["exit_code"] is None
    assert "timed out after" in result.text
    child = Path("/proc") / pid_file.read_text()
    deadline = time.monotonic() + 5
    while child.exists() and "\nState:\tZ" not in (child / "status").read_text():
        assert time.monotonic() < deadline, "the command's child survived the timeout"
        time.sleep(0.05)


def test_a_command_that_cannot_start_is_reported(tmp_path: Path) -> None:
    command = ProblemCommand(name="lint", command="no-such-linter-x9 --check", parser="auto")

    result = _problems(tmp_path, [command])

    assert "- lint: did not run: cannot start 'no-such-linter-x9'" in result.text
    assert result.data is not None and result.data["problems"] == []


def test_nothing_to_run_explains_how_to_configure(tmp_path: Path) -> None:
    result = _problems(tmp_path)

    assert "No diagnostics commands are configured" in result.text
    assert result.data == {"commands": [], "problems": []}


def test_detection_is_conservative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no dotnet, whatever the host has
    (tmp_path / "Shop.csproj").write_text("<Project />\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    assert [c.name for c in detect_commands(tmp_path)] == []

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_shop.py").write_text("def test_a():\n    pass\n")
    (tmp_path / "ruff.toml").write_text("line-length = 100\n")
    detected = detect_commands(tmp_path)
    assert [(c.name, c.parser) for c in detected] == [("pytest", "pytest"), ("ruff", "ruff")]
    assert "--no-fix" in shlex.split(detected[1].command)
