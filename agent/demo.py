"""`hotfix demo`: the whole product on a laptop, in a throw-away repository.

The demo builds the sample shop's git history, puts its buggy release (v1.4.2) into a local
"production" (router + process), probes production continuously, and lets the
hotfix-deployment agent ship the fix — or, with `broken_fix`, a fix with a regression that
only load reveals, which must be rolled back. Setting up production is the demo's job, not
the agent's; everything after that is an ordinary run with an ordinary journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.approvers import Approver, PolicyFileApprover
from agent.session import EventCallback, RunResult, SessionOptions, run_session
from examples.demo_repo import DemoRepo, build_demo_repo
from tools.deploy.verification.prober import Prober, ProberReport

if TYPE_CHECKING:
    from tools.deploy.targets.local import LocalTarget

# Exactly the tools the demo lets its policy approve (pre-deployment checks and the
# production-changing ones); policy files never approve a production call by a wildcard.
DEMO_APPROVED_TOOLS = (
    "hotfix_predeploy",
    "hotfix_deploy",
    "hotfix_stage",
    "hotfix_shift_traffic",
    "hotfix_promote",
    "hotfix_rollback",
)
POLICY_FILE = Path(".hotfix") / "demo-approvals.toml"
_PORT_LINE = re.compile(r"^production_port\s*=\s*\d+\s*$", re.M)


class DemoError(Exception):
    """The demo cannot start (busy port, non-empty directory); nothing was changed."""


@dataclass
class DemoOptions:
    """What `hotfix demo` was asked for."""

    port: int = 8080
    broken_fix: bool = False
    strategy: str | None = None
    keep_running: bool = False
    directory: Path | None = None
    model: str | None = None
    # None: the policy file the demo writes, approving exactly DEMO_APPROVED_TOOLS.
    approver: Approver | None = None
    on_event: EventCallback | None = None
    progress: Callable[[str], None] = lambda _message: None
    # Called with every record of the run's journal once it is written.
    journal_listeners: list[Callable[[dict[str, Any]], None]] = field(
        default_factory=list[Callable[[dict[str, Any]], None]]
    )


@dataclass
class DemoResult:
    """How the demo went, with the paths of everything it wrote."""

    run: RunResult
    repo: DemoRepo
    broken_fix: bool
    prober: ProberReport
    production_url: str
    report: Path
    handoff: Path
    kept_running: bool
    policy_file: Path | None = None
    deployment: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def status(self) -> str:
        """The deployment's status, or the run's when no deployment happened."""
        return str(self.deployment.get("status") or self.run.status)

    @property
    def succeeded(self) -> bool:
        """The right thing happened: the fix deployed, or the broken fix rolled back."""
        return self.status == ("rolled_back" if self.broken_fix else "deployed")

    def to_json(self) -> dict[str, Any]:
        """The document `hotfix demo --json` prints."""
        d = self.deployment
        return {
            "run_id": self.run.run_id, "status": self.status, "run_status": self.run.status,
            "version": d.get("version"), "previous_version": d.get("previous_version"),
            "strategy": d.get("strategy"), "report": str(self.report),
            "handoff": str(self.handoff), "time_to_rollback_s": d.get("time_to_rollback_s"),
            "prober": {"total": self.prober.total, "failed": self.prober.failed,
                       "max_consecutive_failures": self.prober.max_consecutive_failures},
            "production_url": self.production_url, "workspace": str(self.repo.path),
            "journal": str(self.run.journal_path), "kept_running": self.kept_running,
            "broken_fix": self.broken_fix,
            "policy_file": str(self.policy_file) if self.policy_file else None,
        }  # fmt: skip


def check_port_free(port: int) -> None:
    """Raise `DemoError` when something already listens on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DemoError(
                f"port {port} is busy ({exc.strerror}); choose another with --port"
            ) from None


def write_demo_policy(workspace: Path) -> Path:
    """Write the demo's approval policy into `workspace`; its path."""
    path = workspace / POLICY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    rules = ", ".join(f'"{name}"' for name in DEMO_APPROVED_TOOLS)
    path.write_text(
        "# Written by `hotfix demo`: approves exactly the demo's deployment tools.\n"
        f"approve = [{rules}]\n",
        encoding="utf-8",
    )
    return path


def prepare_workspace(options: DemoOptions) -> DemoRepo:
    """Build the demo repository, check the fix out and set the production port."""
    check_port_free(options.port)
    if options.directory is None:
        root = Path(tempfile.mkdtemp(prefix="hotfix-demo-")) / "shop"
    else:
        root = options.directory
        if root.exists() and any(root.iterdir()):
            raise DemoError(f"{root} is not empty; give --dir a new or empty directory")
    repo = build_demo_repo(root)
    # The developer's checkout is the fix: `problems` runs its tests there.
    _git(repo.path, "checkout", "-q", repo.broken_ref if options.broken_fix else repo.fix_ref)
    config = repo.path / "hotfix.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        _PORT_LINE.sub(f"production_port = {options.port}", text, count=1), encoding="utf-8"
    )
    return repo


def demo_description(repo: DemoRepo, broken_fix: bool, dark_flag: str | None = None) -> str:
    """The request the agent gets, naming the ref that is checked out."""
    if dark_flag is not None:
        return (
            "Checkout returns 500 when the cart is empty. Production already runs the fix "
            f"dark, behind the feature flag {dark_flag} (off). The fix is on branch {repo.fix_ref}."
        )
    if not broken_fix:
        return repo.description
    return repo.description.replace(f"branch {repo.fix_ref}", f"branch {repo.broken_ref}")


async def start_production(
    target: LocalTarget, repo: DemoRepo, dark_flag: str | None = None
) -> str:
    """Serve the demo's production release with 100 % of traffic; its label.

    With `dark_flag`, production runs the fix's code with that flag off (a dark launch),
    which is where a feature-flag rollout starts from.
    """
    from tools.deploy.target import VersionSpec
    from tools.deploy.tools import label_from_ref

    ref = repo.production_ref
    if dark_flag is not None:
        await target.set_flag(dark_flag, False)
        ref = repo.fix_ref
    label = label_from_ref(ref)
    await target.stage(VersionSpec(label, ref))
    await target.set_weights({label: 100})
    return label


async def run_demo(options: DemoOptions) -> DemoResult:
    """Run the demo end to end; the environment is torn down unless `keep_running`.

    When the demo is cancelled (a stop signal), the environment is left running: production
    may be mid-rollout, and the caller settles it from the run's journal first, then shuts
    it down (`agent.cli_demo` does both).

    Raises:
        DemoError: the port is busy or the directory is not empty (checked first).
    """
    from agent.config import load_config
    from handoffs.report import write_outputs
    from tools.deploy.targets.local import LocalTarget, shutdown_environment

    if options.broken_fix and options.strategy == "feature-flag":
        raise DemoError(
            "--broken-fix needs a strategy that deploys code (blue-green or canary): the broken "
            "fix fails with its flag on or off"
        )
    repo = prepare_workspace(options)
    options.progress(f"demo repository: {repo.path}")
    policy_file: Path | None = None
    approver = options.approver
    if approver is None:
        policy_file = write_demo_policy(repo.path)
        approver = PolicyFileApprover(policy_file)
        options.progress(
            f"approvals come from the policy file {policy_file}, which approves "
            f"exactly: {', '.join(DEMO_APPROVED_TOOLS)}"
        )
    config = load_config(repo.path)
    target = LocalTarget(config.deploy.local, workspace=repo.path)
    flag = config.deploy.strategy.feature_flag.name
    dark_flag = flag if options.strategy == "feature-flag" and flag else None
    prober = Prober(f"{target.production_url}/healthz", interval_s=0.02)
    probing = cancelled = False
    try:
        what = f"{repo.fix_ref} with {dark_flag} off" if dark_flag else repo.production_ref
        options.progress(f"starting production: {what} on {target.production_url}")
        await start_production(target, repo, dark_flag)
        await prober.start()
        probing = True
        options.progress(f"prober: GET {prober.url} every 20 ms until the end")
        run = await run_session(SessionOptions(
            description=demo_description(repo, options.broken_fix, dark_flag), workspace=repo.path,
            approver=approver, model=options.model, strategy=options.strategy,
            front_end="demo", on_event=options.on_event,
            journal_listeners=list(options.journal_listeners),
        ))  # fmt: skip
        probing = False
        report = await prober.stop()
        outputs = write_outputs(run.run_dir)
        report_path = outputs.markdown
        handoff_path = outputs.handoff or run.run_dir / "handoff.json"
    except asyncio.CancelledError:
        cancelled = True
        raise
    finally:
        if probing:
            with contextlib.suppress(Exception):
                await prober.stop()
        if not options.keep_running and not cancelled:
            options.progress("stopping the local environment")
            shutdown_environment(target.state_dir)
    return DemoResult(
        run=run, repo=repo, broken_fix=options.broken_fix, prober=report,
        production_url=target.production_url, report=report_path, handoff=handoff_path,
        kept_running=options.keep_running, policy_file=policy_file,
        deployment=dict(run.extras.get("deployment") or {}),
    )  # fmt: skip


def _git(path: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=path, env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise DemoError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
