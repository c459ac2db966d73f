"""The `hotfix` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.journal import read_journal

ROOT = Path(__file__).resolve().parent.parent
HOTFIX = str(Path(sys.executable).parent / "hotfix")


def hotfix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTFIX_BLOCK_MODEL_REQUESTS": "1"}
    return subprocess.run([HOTFIX, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120, stdin=subprocess.DEVNULL)


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(result.stdout)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    workspace = tmp_path / "shop"
    shutil.copytree(ROOT / "examples" / "shop", workspace,
                    ignore=shutil.ignore_patterns("__pycache__", ".hotfix"))
    return workspace


@pytest.mark.slow
def test_scripted_run_investigates_a_real_directory_and_journals_every_call(shop: Path) -> None:
    script = ROOT / "examples" / "scripted" / "investigate.json"
    result = hotfix("run", "checkout returns 500 on an empty cart", "--model",
                    f"scripted:{script}", "--workspace", str(shop), "--approve", "deny", "--json")
    assert result.returncode == 4, result.stderr  # investigated only: nothing was deployed
    document = as_json(result)
    assert document["status"] == "completed"
    assert document["turns"] == 3
    events = read_journal(Path(document["journal"]))
    requested = [e["tool"] for e in events if e["type"] == "tool_requested"]
    assert requested == ["codebase", "usages", "readFile", "problems"]
    decided = [e["tool"] for e in events if e["type"] == "gate_decision"]
    assert decided == requested
    finished = {e["tool"]: e["status"] for e in events if e["type"] == "tool_finished"}
    assert finished == {"codebase": "ok", "usages": "ok", "readFile": "ok", "problems": "ok"}
    assert events[-1]["type"] == "run_finished"


def test_deny_all_approver_executes_none_of_the_non_read_tools(shop: Path, tmp_path: Path) -> None:
    tools = as_json(hotfix("tools", "--json"))["tools"]
    mutating = [t for t in tools if t["effect"] != "read"]
    assert {t["name"] for t in mutating} >= {"runInTerminal", "hotfix_deploy", "hotfix_promote"}
    examples: dict[str, dict[str, Any]] = {
        "runInTerminal": {"command": "touch ran-terminal"},
        "hotfix_predeploy": {"version_ref": "main"},
        "hotfix_stage": {"version_ref": "main"},
        "hotfix_verify": {"label": "vnext"},
        "hotfix_shift_traffic": {"label": "vnext", "percent": 50},
        "hotfix_promote": {"label": "vnext"},
        "hotfix_rollback": {"reason": "test"},
        "hotfix_deploy": {"version_ref": "main"},
    }
    assert {t["name"] for t in mutating} <= set(examples), "a new mutating tool needs a case here"
    turn = [{"type": "tool_use", "id": f"m{i}", "name": t["name"], "input": examples[t["name"]]}
            for i, t in enumerate(mutating)]
    script = tmp_path / "mutate.json"
    script.write_text(json.dumps({"turns": [turn, [{"type": "text", "text": "done"}]]}))
    result = hotfix("run", "deploy main", "--model", f"scripted:{script}", "--workspace",
                    str(shop), "--approve", "deny", "--json")
    assert result.returncode == 4, result.stderr  # completed, but nothing reached production
    assert as_json(result)["deployment_status"] is None
    events = read_journal(Path(as_json(result)["journal"]))
    finished = {e["tool"]: e["status"] for e in events if e["type"] == "tool_finished"}
    assert finished == {t["name"]: "denied" for t in mutating}
    assert not any(e["type"] == "step" for e in events)  # the engine never moved
    assert not (shop / "ran-terminal").exists()


def test_a_run_that_could_deploy_but_made_no_deployment_exits_4(
    shop: Path, tmp_path: Path
) -> None:
    script = tmp_path / "talk.json"
    script.write_text(json.dumps({"turns": [[{"type": "text", "text": "looks fine to me"}]]}))
    agents = shop / ".github" / "agents"
    agents.mkdir(parents=True)
    (agents / "reader.agent.md").write_text(
        "---\nname: Reader\ndescription: reads code\ntools: ['codebase', 'readFile']\n---\n"
        "You read code.\n"
    )
    common = ["--model", f"scripted:{script}", "--workspace", str(shop), "--json"]

    deployer = hotfix("run", "deploy hotfix/1.4.3", *common)
    reader = hotfix("run", "where is checkout?", "--agent", "reader", *common)

    assert deployer.returncode == 4, deployer.stderr  # a pipeline must not go green
    assert as_json(deployer)["status"] == "completed"
    assert as_json(deployer)["deployment_status"] is None
    assert reader.returncode == 0, reader.stderr  # nothing to deploy with: its job is done
    assert as_json(reader)["deployment_status"] is None


def test_a_secret_named_only_in_the_config_is_refused_in_a_calls_arguments(
    shop: Path, tmp_path: Path
) -> None:
    secret = "dsn-9c1f4e27b3"  # neither its name nor its shape says "secret": only the config
    config = shop / "hotfix.toml"
    config.write_text(config.read_text() + '\n[secrets]\nenv_names = ["SHOP_DSN"]\n')
    policy = tmp_path / "approvals.toml"
    policy.write_text('approve = ["runInTerminal"]\n')
    call = {"type": "tool_use", "id": "t1", "name": "runInTerminal",
            "input": {"command": f"echo {secret} > leaked.txt"}}  # fmt: skip
    script = tmp_path / "leak.json"
    script.write_text(json.dumps({"turns": [[call], [{"type": "text", "text": "done"}]]}))

    done = subprocess.run(
        [HOTFIX, "run", "deploy it", "--model", f"scripted:{script}", "--workspace", str(shop),
         "--approve", f"policy:{policy}", "--json"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "HOTFIX_BLOCK_MODEL_REQUESTS": "1", "SHOP_DSN": secret},
    )  # fmt: skip

    journal = Path(as_json(done)["journal"])
    events = read_journal(journal)
    decision = next(e for e in events if e["type"] == "gate_decision")
    assert (decision["decision"], decision["rule"]) == ("deny", "builtin:secret-in-args")
    assert not (shop / "leaked.txt").exists()
    assert secret not in journal.read_text()


def test_hotfix_tool_honours_the_change_windows_like_a_run(shop: Path) -> None:
    config = shop / "hotfix.toml"
    config.write_text(config.read_text() + (
        '\n[deploy.windows]\nfreezes = [{ start = "2000-01-01T00:00", '
        'end = "2100-01-01T00:00", reason = "year-end freeze" }]\n'
    ))  # fmt: skip

    done = hotfix("tool", "hotfix_shift_traffic", '{"label": "v1.4.3", "percent": 10}',
                  "--workspace", str(shop), "--approve", "deny", "--json")  # fmt: skip

    outcome = as_json(done)
    assert done.returncode == 3 and outcome["status"] == "denied"
    assert (outcome["decision"], outcome["rule"]) == ("ask", "change-window")


@pytest.mark.parametrize("command", ["rm -fr /", "rm -rf /", "sudo rm -r -f /"])
def test_policy_explain_never_allows_removing_the_root(command: str, shop: Path) -> None:
    (shop / "hotfix.toml").write_text('[gate]\nallow = ["runInTerminal(rm *)"]\n')
    result = hotfix("policy", "explain", "runInTerminal", json.dumps({"command": command}),
                    "--workspace", str(shop), "--json")
    assert result.returncode == 0, result.stderr
    verdict = as_json(result)
    assert verdict["decision"] == "deny"
    assert verdict["rule"]


def test_policy_explain_names_the_deciding_rule(shop: Path) -> None:
    (shop / "hotfix.toml").write_text('[gate]\nallow = ["runInTerminal(git status*)"]\n')
    result = hotfix("policy", "explain", "runInTerminal", '{"command": "git status"}',
                    "--workspace", str(shop), "--json")
    assert as_json(result)["decision"] == "allow"
    assert as_json(result)["rule"] == "runInTerminal(git status*)"


def test_fetching_the_cloud_metadata_service_is_refused_with_a_clear_error(shop: Path) -> None:
    result = hotfix("tool", "fetch", '{"url": "http://169.254.169.254/latest/meta-data/"}',
                    "--workspace", str(shop), "--json")
    document = as_json(result)
    assert result.returncode == 1
    assert document["status"] == "error"
    assert "169.254.169.254" in document["output"]
    assert "SSRF" in document["output"]


def test_bad_json_arguments_are_bad_input_with_exit_code_2(shop: Path) -> None:
    result = hotfix("tool", "readFile", "{not json", "--workspace", str(shop), "--json")
    assert result.returncode == 2
    assert "not valid JSON" in as_json(result)["error"]


def test_a_bad_config_file_is_reported_with_the_key(shop: Path) -> None:
    (shop / "hotfix.toml").write_text("[limits]\nmax_turns = -1\n")
    result = hotfix("run", "x", "--workspace", str(shop), "--model", "runbook", "--json")
    assert result.returncode == 2
    assert "limits.max_turns" in as_json(result)["error"]


def test_runs_lists_the_journaled_runs(shop: Path) -> None:
    hotfix("tool", "readFile", '{"path": "VERSION"}', "--workspace", str(shop))
    runs = as_json(hotfix("runs", "--workspace", str(shop), "--json"))["runs"]
    assert len(runs) == 1
    assert runs[0]["status"] == "ok"
    assert runs[0]["tool_calls"] == 1
