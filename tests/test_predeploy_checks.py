"""Pre-deployment checks: secrets in the fix's diff, dependency audit, configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_predeploy import GitRepo, by_step, make_ctx, predeploy

from agent.journal import read_journal
from agent.redaction import Redactor
from tools.deploy.predeploy.config_check import check_settings
from tools.deploy.predeploy.security import scan_diff
from tools.deploy.predeploy.settings import (
    ConfigCheckSettings,
    PredeploySettings,
    SecuritySettings,
    TagSettings,
)

NO_TAG = TagSettings(enabled=False)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "shop")


AWS_KEY = "AKIAZ7QEXAMPLEKEY123"


def test_a_secret_added_by_the_fix_fails_the_scan_and_is_never_written_out(
    repo: GitRepo,
) -> None:
    repo.commit_on_fix("payments.py", f'TIMEOUT = 3\nAWS_ACCESS_KEY = "{AWS_KEY}"\n')
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings())

    assert report.failed_step == "security"
    assert report.reason is not None and "payments.py:2" in report.reason
    [finding] = by_step(report)["security"]["evidence"]["diff"]["findings"]
    assert finding["file"] == "payments.py" and finding["line"] == 2
    assert finding["excerpt"] == 'AWS_ACCESS_KEY = "[REDACTED]"'
    assert ctx.journal is not None
    assert AWS_KEY not in ctx.journal.path.read_text()
    assert AWS_KEY not in report.text()
    assert repo.git("tag", "-l") == ""  # the tag step never ran


def test_code_that_only_names_or_references_secrets_passes_the_scan(repo: GitRepo) -> None:
    code = (
        "import os\n"
        'password = os.environ["DB_PASSWORD"]\n'
        "def connect(user, password):\n"
        "    return open_db(user=user, password=password)\n"
    )
    repo.commit_on_fix("db.py", code)
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG))

    assert report.passed, report.text()
    diff = by_step(report)["security"]["evidence"]["diff"]
    assert diff["base"] == "main"
    assert diff["added_lines"] == 5 and diff["findings"] == []


def test_scan_reports_the_new_line_number_of_each_added_secret() -> None:
    diff = (
        "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n"
        "@@ -3,0 +4,2 @@\n+DEBUG=1\n+API_KEY=live-0123456789abcdef\n"
        "diff --git a/old.txt b/old.txt\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n"
    )

    findings, files, added = scan_diff(diff, Redactor())

    assert findings == [{"file": ".env", "line": 5, "excerpt": "API_KEY=[REDACTED]"}]
    assert (files, added) == (1, 2)


def test_a_known_secret_value_from_the_environment_is_found_in_the_diff() -> None:
    redactor = Redactor(["s3cr3t-value-from-env"])
    diff = "+++ b/notes.md\n@@ -0,0 +1 @@\n+the token is s3cr3t-value-from-env\n"

    findings, _, _ = scan_diff(diff, redactor)

    assert findings == [{"file": "notes.md", "line": 1, "excerpt": "the token is [REDACTED]"}]


def test_a_failing_dependency_audit_fails_the_security_step(repo: GitRepo) -> None:
    audit = "{python} -c \"print('Package has the following vulnerable packages: x 1.0')\""
    settings = PredeploySettings(
        tag=NO_TAG,
        security=SecuritySettings(
            audit_command=audit, audit_fail_pattern="following vulnerable packages"
        ),
    )
    ctx = make_ctx(repo)

    report = predeploy(ctx, settings)

    assert report.failed_step == "security"
    assert report.reason is not None and "reported vulnerabilities" in report.reason
    audit_evidence = by_step(report)["security"]["evidence"]["audit"]
    assert audit_evidence["exit_code"] == 0
    assert "vulnerable packages" in audit_evidence["output_excerpt"]


def test_a_missing_required_setting_fails_the_config_check(repo: GitRepo) -> None:
    check = ConfigCheckSettings(
        settings_file="appsettings.json", required_settings=["Api:Url", "Payments:Endpoint"]
    )
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, config_check=check))

    assert report.failed_step == "config"
    evidence = by_step(report)["config"]["evidence"]
    assert evidence["missing"] == ["Payments:Endpoint"]
    assert report.reason is not None and "Payments:Endpoint" in report.reason
    assert report.not_run == ["backup", "migrate", "tag"]


def test_an_inlined_secret_in_the_settings_fails_without_showing_its_value(
    repo: GitRepo,
) -> None:
    settings_file = {
        "Api": {"Url": "https://shop.invalid", "ApiKey": "pk-live-998877665544"},
        "Db": {"Password": "${DB_PASSWORD}"},
    }
    repo.commit_on_fix("appsettings.json", json.dumps(settings_file), "config")
    check = ConfigCheckSettings(settings_file="appsettings.json", required_settings=["Api.Url"])
    ctx = make_ctx(repo)
    # The secret is also in the diff; look at the configuration check alone.
    settings = PredeploySettings(
        tag=NO_TAG, security=SecuritySettings(scan_diff=False), config_check=check
    )

    report = predeploy(ctx, settings)

    assert report.failed_step == "config"
    assert by_step(report)["config"]["evidence"]["inlined_secrets"] == ["Api.ApiKey"]
    assert ctx.journal is not None
    assert "pk-live-998877665544" not in ctx.journal.path.read_text()
    assert "pk-live-998877665544" not in report.text()


def test_present_settings_with_referenced_secrets_pass() -> None:
    values = {
        "Api.Url": "https://shop.invalid",
        "Db.Password": "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db)",
        "STRIPE_API_KEY": "env:STRIPE_API_KEY",
        "ConnectionStrings.Main": "Server=db;Password=hunter2hunter2",
    }

    missing, inlined = check_settings(values, ["api__url", "DB:PASSWORD"], Redactor())

    assert missing == []
    assert inlined == ["ConnectionStrings.Main"]  # a password inside a connection string


def test_step_events_for_checks_carry_the_redacted_reason(repo: GitRepo) -> None:
    repo.commit_on_fix("payments.py", f'AWS_ACCESS_KEY = "{AWS_KEY}"\n')
    ctx = make_ctx(repo)

    predeploy(ctx, PredeploySettings())

    assert ctx.journal is not None
    failed = [r for r in read_journal(ctx.journal.path) if r.get("phase") == "failed"]
    assert [r["kind"] for r in failed] == ["predeploy-security"]
    assert "1 secret(s) added by the diff (payments.py:1)" in failed[0]["details"]["reason"]
