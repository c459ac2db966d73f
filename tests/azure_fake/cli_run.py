"""Running `hotfix run` as a subprocess against the fake: workspace, config, result.

`hotfix_run` writes a git workspace whose hotfix.toml points `[deploy.appservice]` at a
running `FakeAzure` with the loopback-only test credential, then runs the console script
as a pipeline would: runbook model, policy-file approvals, `--json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.journal import read_journal
from tools.deploy.targets.appservice.credentials import LoopbackTestCredential

from . import FakeApp, FakeAzure, make_site_zip

HOTFIX = str(Path(sys.executable).parent / "hotfix")
DESCRIPTION = "checkout returns 500 on an empty cart; the fix is on branch hotfix/2.0.1"
TOKEN = LoopbackTestCredential.TOKEN
# The app authenticates to a payment provider with a service principal; the operator's shell
# has one too. Neither may reach a file of the run.
CLIENT_SECRET = "Qx8~fake-client-secret-4TnW2vLp"
# How each journaled App Service operation goes over the wire (the fake's request log).
WIRE = {
    "web_apps.begin_create_or_update_slot": "PUT slots/{slot}",
    "web_apps.update_application_settings_slot": "PUT slots/{slot}/config/appsettings",
    "web_apps.list_slot_differences_slot": "POST slots/{slot}/slotsdiffs",
    "web_apps.begin_swap_slot": "POST slots/{slot}/slotsswap",
    "web_apps.stop_slot": "POST slots/{slot}/stop",
    "zipdeploy": "POST {slot}/api/zipdeploy",
}


@dataclass
class CliRun:
    """One finished `hotfix run`: the process, the fake it talked to, its workspace."""

    proc: subprocess.CompletedProcess[str]
    fake: FakeAzure
    workspace: Path

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.proc.stdout)

    @property
    def run_dir(self) -> Path:
        return Path(self.document["run_dir"])

    def records(self) -> list[dict[str, Any]]:
        return read_journal(self.run_dir / "journal.jsonl")

    def report(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "report.json").read_text())

    def line(self, needle: str) -> str:
        """The one line of the run's summary that mentions `needle`."""
        lines = [x for x in self.document["summary"].splitlines() if needle in x]
        assert lines, self.document["summary"]
        return lines[0]


def shop(**behaviour: Any) -> FakeApp:
    """`shop` serving v1, a sticky DB_MODE, and a client secret among production's settings."""
    return FakeApp(
        "shop",
        production={"version": "v1"},
        settings={"HOTFIX_VERSION": "v1", "PAYMENTS_CLIENT_SECRET": CLIENT_SECRET},
        sticky={"DB_MODE": ("prod", "staging")},
        **behaviour,
    )


def hotfix_run(
    root: Path,
    fake: FakeAzure,
    *,
    behaviour: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    json_output: bool = True,
) -> CliRun:
    """Write a git workspace whose hotfix.toml points at `fake`, then `hotfix run` in it."""
    ws = root / "shop"
    ws.mkdir(parents=True)
    target = fake.target_settings(
        package="dist/shop-{version}.zip", credential="loopback_test", **(settings or {})
    )
    (ws / "hotfix.toml").write_text(
        '[deploy]\ntarget = "appservice"\n[deploy.appservice]\n'
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in target.items())
        + "[deploy.strategy.blue_green]\nbake_s = 0.05\nanalysis = false\n"
        "[deploy.verification.health]\ninterval_s = 0.01\nmax_wait_s = 1.0\n"
        "consecutive_successes = 2\n"
        '[[deploy.verification.smoke]]\nname = "home page"\npath = "/"\n'
        # The package is prebuilt below; the checklist itself is tested elsewhere.
        "[deploy.predeploy]\nrun_tests = false\n"
        "[deploy.predeploy.security]\nscan_diff = false\n"
        "[deploy.predeploy.tag]\nenabled = false\n"
    )
    (ws / "checkout.py").write_text("def total(items):\n    return sum(items)\n")
    (ws / "approvals.toml").write_text(
        'approve = ["hotfix_predeploy", "hotfix_plan", "hotfix_deploy"]\n'
    )
    _git(ws, "init", "-q", "-b", "main")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "shop")
    _git(ws, "branch", "hotfix/2.0.1")
    make_site_zip(ws / "dist" / "shop-v2.0.1.zip", "v2.0.1", **(behaviour or {}))
    args = [HOTFIX, "run", DESCRIPTION, "--model", "runbook", "--target", "appservice"]
    args += ["--approve", f"policy:{ws / 'approvals.toml'}", "--workspace", str(ws)]
    proc = subprocess.run(
        [*args, *(["--json"] if json_output else [])],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliRun(proc, fake, ws)


def _env() -> dict[str, str]:
    # Module-scoped runs start before the per-test guard strips model credentials: drop them
    # here. The Azure variables are the operator's service principal, which must stay unused.
    dropped = ("ANTHROPIC_", "AWS_", "GOOGLE_", "CLOUD_ML_", "AZURE_", "HOTFIX_MODEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return env | {
        "HOTFIX_BLOCK_MODEL_REQUESTS": "1",
        "AZURE_TENANT_ID": "00000000-0000-0000-0000-00000000beef",
        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000cafe",
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
    }


def _git(ws: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *identity, *args], cwd=ws, check=True, capture_output=True)


def wire(operation: dict[str, Any]) -> str:
    """The fake's log line of one report row (`arm PUT slots/staging`)."""
    path = WIRE[operation["operation"]].format(slot=operation["slot"])
    return f"{operation['service']} {path}"


def journaled_requests(fake: FakeAzure) -> list[str]:
    """What the fake received that the target journals: every change, and the slot diff."""
    return [f"{r.service} {r}" for r in fake.log if r.mutating or r.path.endswith("slotsdiffs")]
