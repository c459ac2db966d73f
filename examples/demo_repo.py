"""Build the throw-away git repository `hotfix demo` deploys from.

History (dates fixed, so commit ids are the same on every machine and run):

    main, tag v1.4.2     "v1.4.2": the shop in production. POST /api/checkout with an empty
                         cart answers 500 (ZeroDivisionError in the loyalty-discount average).
    hotfix/1.4.3         the fix, with tests/test_checkout.py::test_empty_cart_checks_out_to_zero
                         (passes here, fails against the 1.4.2 code).
    hotfix/1.4.3-broken  the same fix plus a regression that only load shows: GET /api/products
                         answers 500 for requests 51-60, 111-120, ... of each process (a
                         "recently viewed" ring indexed modulo 60 over a list of 50). Health
                         checks, smoke tests and the unit tests pass; canary analysis fails.
    hotfix/1.4.3-broken-smoke  the fix plus a regression any checkout with items shows (500):
                         the smoke test "checkout with items" and the unit tests catch it.

The sources are `examples/shop/` (release 1.4.3); the other variants are derived from it by
the small, exact text edits below.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SHOP = Path(__file__).resolve().parent / "shop"

PRODUCTION_TAG = "v1.4.2"
FIX_BRANCH = "hotfix/1.4.3"
BROKEN_BRANCH = "hotfix/1.4.3-broken"
SMOKE_BROKEN_BRANCH = "hotfix/1.4.3-broken-smoke"
DESCRIPTION = (
    "Checkout returns 500 when the cart is empty (production runs v1.4.2). "
    f"The fix is on branch {FIX_BRANCH}."
)

_GITIGNORE = ".hotfix/\n__pycache__/\n*.pyc\n.pytest_cache/\n"
_README = """# shop

A tiny shop API (stdlib only): `python app.py --port 8080`, then
`curl localhost:8080/api/products`. Tests: `python -m pytest tests`.

Production runs tag v1.4.2. Known issue: checking out an empty cart answers 500.
"""
_BASE_DATE = 1_795_600_000  # 2026-11-25: fixed dates make commit ids reproducible


@dataclass(frozen=True)
class DemoRepo:
    """The demo repository and the names of its interesting refs."""

    path: Path
    commits: dict[str, str] = field(default_factory=dict[str, str])
    production_ref: str = PRODUCTION_TAG
    fix_ref: str = FIX_BRANCH
    broken_ref: str = BROKEN_BRANCH
    smoke_broken_ref: str = SMOKE_BROKEN_BRANCH
    description: str = DESCRIPTION


def _edit(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"demo source changed: expected exactly one {old[:60]!r}")
    return text.replace(old, new)


def _release_app() -> str:
    text = (SHOP / "app.py").read_text(encoding="utf-8")
    start = text.index("This file is release 1.4.3")
    end = text.index('"""', start)
    return text[:start].rstrip() + "\n" + text[end:]


def app_v142() -> str:
    """app.py of 1.4.2: the empty-cart bug, and no flag to switch the fix."""
    text = _edit(
        _release_app(),
        '; `{"empty_cart_fix": false}` switches the\n1.4.3 fix off (it defaults to on).',
        ".",
    )
    return _edit(
        text,
        '    if flags().get("empty_cart_fix", True):\n'
        "        average_unit_cents = subtotal / units if units else 0\n"
        "    else:  # the 1.4.2 behaviour, kept switchable for a feature-flag rollout\n"
        "        average_unit_cents = subtotal / units\n",
        "    average_unit_cents = subtotal / units\n",
    )


def app_broken_under_load() -> str:
    """app.py of 1.4.3-broken: fixed, but /api/products fails 10 of every 60 requests."""
    text = _edit(_release_app(), "import argparse\n", "import argparse\nimport itertools\n")
    signature = "def list_products() -> list[dict[str, Any]]:\n"
    docstring = '    """The catalogue, one entry per SKU."""\n'
    ring = "_RING_SLOTS = 60\n_recently_viewed: list[int] = [0] * 50\n_views = itertools.count()\n"
    remember = "    view = next(_views)\n    _recently_viewed[view % _RING_SLOTS] = view\n"
    return _edit(text, signature + docstring, ring + "\n\n" + signature + docstring + remember)


def app_broken_for_smoke() -> str:
    """app.py of 1.4.3-broken-smoke: fixed, but any non-empty checkout fails."""
    return _edit(
        _release_app(),
        'sku, qty = item.get("sku"), item.get("qty", 1)',
        'sku, qty = item["sku"], item["quantity"]',
    )


def tests_v142() -> str:
    """tests/test_checkout.py of 1.4.2: without the empty-cart test the fix adds."""
    text = (SHOP / "tests" / "test_checkout.py").read_text(encoding="utf-8")
    return text[: text.index("\n\ndef test_empty_cart_checks_out_to_zero")] + "\n"


def build_demo_repo(path: Path) -> DemoRepo:
    """Create the demo repository at `path` (which must not exist or be empty).

    Returns:
        The repository with `commits` mapping each ref name to its commit id; `main` is
        checked out (= v1.4.2, what production runs).
    """
    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        raise FileExistsError(f"{path} is not empty")
    git = _Git(path)
    git("init", "-q", "-b", "main")
    for key, value in (
        ("user.name", "Demo Developer"),
        ("user.email", "dev@shop.example"),
        ("commit.gpgsign", "false"),
        ("tag.gpgsign", "false"),
    ):
        git("config", key, value)
    tests_fixed = (SHOP / "tests" / "test_checkout.py").read_text(encoding="utf-8")
    common = {
        ".gitignore": _GITIGNORE,
        "README.md": _README,
        "conftest.py": (SHOP / "conftest.py").read_text(encoding="utf-8"),
        "hotfix.toml": (SHOP / "hotfix.toml").read_text(encoding="utf-8"),
    }
    git.commit({**common, "app.py": app_v142(), "VERSION": "1.4.2\n",
                "tests/test_checkout.py": tests_v142()}, "v1.4.2")  # fmt: skip
    git("tag", "-a", PRODUCTION_TAG, "-m", "Release 1.4.2")
    fixes = {
        FIX_BRANCH: (_release_app(), "Fix 500 on checkout with an empty cart"),
        BROKEN_BRANCH: (
            app_broken_under_load(),
            "Fix 500 on checkout with an empty cart; remember recently viewed products",
        ),
        SMOKE_BROKEN_BRANCH: (
            app_broken_for_smoke(),
            "Fix 500 on checkout with an empty cart; read item quantities strictly",
        ),
    }
    for branch, (app, message) in fixes.items():
        git("checkout", "-q", "-b", branch, PRODUCTION_TAG)
        files = {"app.py": app, "VERSION": "1.4.3\n", "tests/test_checkout.py": tests_fixed}
        git.commit(files, f"{message} (1.4.3)")
    git("checkout", "-q", "main")
    refs = ["main", PRODUCTION_TAG, *fixes]
    commits = {ref: git("rev-parse", f"{ref}^{{commit}}") for ref in refs}
    return DemoRepo(path=path.resolve(), commits=commits)


class _Git:
    """git in the demo repository, isolated from the user's and the system's git config."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0
        self.env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def commit(self, files: dict[str, str], message: str) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self("add", "-A")
        self.commits += 1
        date = f"@{_BASE_DATE + 3600 * self.commits} +0000"
        self.env.update({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        self("commit", "-q", "-m", message)
