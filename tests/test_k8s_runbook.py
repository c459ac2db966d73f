"""`hotfix run --model runbook --target k8s` end to end against the loopback fake cluster.

The CLI, session, gate (policy file), runbook planner, deployment engine, real verifier and
Kubernetes target all run for real; only the cluster is the protocol fake. Until `k8s` is
wired into the target factory and `[deploy.kubernetes]` into the config, the session's
`build_target` is pointed at `build_kubernetes_target` here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_fake import FakeCluster
from k8s_fake.rig import shop_cluster, target_config
from typer.testing import CliRunner

from agent.cli import app
from agent.config import HotfixConfig
from tools.deploy.config import DeployConfig
from tools.deploy.targets.kubernetes import build_kubernetes_target

HEALTH = """
[deploy.strategy]
default = "rolling"

[deploy.verification.health]
path = "/healthz"
consecutive_successes = 2
interval_s = 0.02
max_wait_s = 1.0

[[deploy.verification.smoke]]
name = "products"
path = "/api/products"
"""


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with shop_cluster() as running:
        yield running


def workspace_for(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """A service repository configured for the fake cluster, and an approval policy."""
    workspace = tmp_path / "shop"
    workspace.mkdir()
    (workspace / "app.py").write_text("def products():\n    return []\n", encoding="utf-8")
    _git_repo(workspace, ["hotfix/1.4.3", "hotfix/1.4.4"])
    cluster.write_kubeconfig(workspace / "kubeconfig")
    settings = target_config(cluster, kubeconfig="kubeconfig", namespace=None)
    settings = settings.model_copy(update={"poll_interval_s": 0.05})
    values = settings.model_dump(exclude_none=True)
    config = HEALTH
    if "kubernetes" in DeployConfig.model_fields:  # wired: the config file says it all
        config += "\n[deploy.kubernetes]\n" + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in values.items()
        )
    else:

        def build_target(config: HotfixConfig, root: Path) -> Any:
            assert config.deploy.target == "k8s"
            return build_kubernetes_target(settings, root)

        monkeypatch.setattr("agent.session.build_target", build_target)
    (workspace / "hotfix.toml").write_text(config, encoding="utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text('approve = ["hotfix_predeploy", "hotfix_deploy"]\n', encoding="utf-8")
    return workspace, policy


def _git_repo(path: Path, branches: list[str]) -> None:
    """A repository with one commit and a branch per fix (pre-deployment checks out refs)."""

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "shop",
    )
    for branch in branches:
        git("branch", branch)


def hotfix_run(
    workspace: Path, policy: Path, description: str, *, exit_code: int = 0
) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        [
            "run",
            description,
            "--workspace",
            str(workspace),
            "--model",
            "runbook",
            "--target",
            "k8s",
            "--approve",
            f"policy:{policy}",
            "--json",
        ],
    )
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def report_of(document: dict[str, Any]) -> str:
    from handoffs.report import write_report

    return write_report(Path(document["run_dir"])).read_text(encoding="utf-8")


@pytest.mark.slow
def test_runbook_rolls_the_fix_out_on_kubernetes(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, policy = workspace_for(cluster, tmp_path, monkeypatch)

    document = hotfix_run(workspace, policy, "checkout 500s on empty cart; fix on hotfix/1.4.3")

    deployment = document["deployment"]
    assert (deployment["status"], deployment["strategy"]) == ("deployed", "rolling")
    assert (deployment["version"], deployment["previous_version"]) == ("v1.4.3", "v1.0.0")
    live = cluster.deployment("shop")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:v1.4.3"
    assert live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert "v1.4.3" in report_of(document)


@pytest.mark.slow
def test_runbook_rolls_back_a_crash_looping_fix_and_the_report_names_the_revisions(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.behave("shop:v1.4.4", "crash")
    workspace, policy = workspace_for(cluster, tmp_path, monkeypatch)

    document = hotfix_run(
        workspace, policy, "checkout 500s on empty cart; fix on hotfix/1.4.4", exit_code=4
    )  # 4: the run completed, the fix was rolled back

    deployment = document["deployment"]
    assert deployment["status"] == "rolled_back"
    assert deployment["rollback_verified"] is True
    live = cluster.deployment("shop")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:v1.0.0"
    assert live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    report = report_of(document)
    assert "CrashLoopBackOff" in report
    assert "revision 2 of deployment shop did not roll out: a new pod cannot start" in report
    assert "production ran revision 1 (shop:v1.0.0) before this update" in report
