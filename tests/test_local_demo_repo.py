"""The demo repository (`hotfix demo`) and the per-version git worktrees built from it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from examples.demo_repo import DemoRepo, build_demo_repo
from tools.deploy.target import TargetError
from tools.deploy.targets.local.worktrees import ensure_worktree


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    return build_demo_repo(tmp_path_factory.mktemp("demo") / "shop")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _load_app(demo: DemoRepo, ref: str, into: Path) -> ModuleType:
    """Import app.py as of `ref` (it reads VERSION beside itself)."""
    into.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "VERSION"):
        (into / name).write_text(_git(demo.path, "show", f"{ref}:{name}") + "\n")
    spec = importlib.util.spec_from_file_location(f"shop_{into.name}", into / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_repo_has_production_tag_and_the_three_hotfix_branches(demo: DemoRepo) -> None:
    branches = set(_git(demo.path, "branch", "--format=%(refname:short)").splitlines())
    assert branches == {"main", demo.fix_ref, demo.broken_ref, demo.smoke_broken_ref}
    assert _git(demo.path, "tag") == "v1.4.2"
    assert demo.commits["main"] == demo.commits["v1.4.2"]
    assert _git(demo.path, "rev-parse", "HEAD") == demo.commits["v1.4.2"]
    assert _git(demo.path, "status", "--porcelain") == ""
    for branch in (demo.fix_ref, demo.broken_ref, demo.smoke_broken_ref):
        assert _git(demo.path, "rev-parse", f"{branch}~1") == demo.commits["v1.4.2"]
    assert _git(demo.path, "show", f"{demo.fix_ref}:VERSION") == "1.4.3"
    assert "[deploy.local]" in _git(demo.path, "show", "v1.4.2:hotfix.toml")


def test_demo_repo_commit_ids_are_reproducible(demo: DemoRepo, tmp_path: Path) -> None:
    assert build_demo_repo(tmp_path / "again").commits == demo.commits


def test_empty_cart_crashes_on_v142_and_is_fixed_on_the_hotfix(
    demo: DemoRepo, tmp_path: Path
) -> None:
    buggy = _load_app(demo, "v1.4.2", tmp_path / "v142")
    fixed = _load_app(demo, demo.fix_ref, tmp_path / "v143")
    with pytest.raises(ZeroDivisionError):
        buggy.checkout_total([])
    assert fixed.checkout_total([])["total_cents"] == 0
    cart: list[dict[str, Any]] = [{"sku": "MUG-2", "qty": 2}]
    assert buggy.checkout_total(cart) == fixed.checkout_total(cart)


def test_broken_hotfix_fails_ten_of_every_sixty_catalogue_reads_after_fifty(
    demo: DemoRepo, tmp_path: Path
) -> None:
    broken = _load_app(demo, demo.broken_ref, tmp_path / "broken")
    failed: list[int] = []
    for request in range(1, 121):
        try:
            broken.list_products()
        except IndexError:
            failed.append(request)
    assert failed == [*range(51, 61), *range(111, 121)]
    assert broken.checkout_total([])["total_cents"] == 0


def test_smoke_broken_hotfix_fails_any_checkout_with_items(demo: DemoRepo, tmp_path: Path) -> None:
    broken = _load_app(demo, demo.smoke_broken_ref, tmp_path / "smoke")
    assert broken.checkout_total([])["total_cents"] == 0
    with pytest.raises(KeyError):
        broken.checkout_total([{"sku": "MUG-2", "qty": 1}])


def test_repo_tests_pass_on_the_fix_and_fail_against_the_bug(
    demo: DemoRepo, tmp_path: Path
) -> None:
    fixed = ensure_worktree(demo.path, tmp_path / "trees", "fixed", demo.fix_ref).path
    buggy = ensure_worktree(demo.path, tmp_path / "trees", "buggy", demo.fix_ref).path
    (buggy / "app.py").write_text(_git(demo.path, "show", "v1.4.2:app.py") + "\n")

    def pytest_in(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            cwd=path, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},  # our plugins: slow start
        )  # fmt: skip

    assert pytest_in(fixed).returncode == 0
    failing = pytest_in(buggy)
    assert failing.returncode == 1
    assert "test_empty_cart_checks_out_to_zero" in failing.stdout
    assert "1 failed, 4 passed" in failing.stdout


def test_worktree_is_checked_out_at_the_ref_and_reused_at_the_same_commit(
    demo: DemoRepo, tmp_path: Path
) -> None:
    root = tmp_path / "worktrees"
    first = ensure_worktree(demo.path, root, "green", demo.fix_ref)
    assert first.path == (root / "green").resolve()
    assert (first.commit, first.reused) == (demo.commits[demo.fix_ref], False)
    assert (first.path / "VERSION").read_text().strip() == "1.4.3"
    (first.path / "marker").write_text("kept")
    again = ensure_worktree(demo.path, root, "green", demo.commits[demo.fix_ref])
    assert again.reused and (again.path / "marker").exists()
    moved = ensure_worktree(demo.path, root, "green", "v1.4.2")
    assert (moved.commit, moved.reused) == (demo.commits["v1.4.2"], False)
    assert (moved.path / "VERSION").read_text().strip() == "1.4.2"
    assert not (moved.path / "marker").exists()


def test_worktree_for_an_unknown_ref_or_a_bad_label_is_refused(
    demo: DemoRepo, tmp_path: Path
) -> None:
    with pytest.raises(TargetError, match="does not name a commit"):
        ensure_worktree(demo.path, tmp_path, "green", "hotfix/nope")
    for label in ("../escape", "a/b", "", "-x"):
        with pytest.raises(TargetError, match="bad version label"):
            ensure_worktree(demo.path, tmp_path, label, "v1.4.2")
