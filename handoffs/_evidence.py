"""Evidence in the journal: command patterns, and the commands a run actually ran.

A command counts when a terminal call ran it, or when the `problems` tool ran it as one of
its diagnostics; either way only an exit code of 0 is success.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from handoffs.facts import Record, RunFacts

TESTS = re.compile(
    r"\b(pytest|tox|nox|npm (run )?test|yarn test|pnpm test|dotnet test|go test|cargo test|"
    r"mvn (-\S+ )*(test|verify)|gradle(w)? test|make test|rspec|jest|vitest)\b"
)
SECURITY = re.compile(
    r"\b(bandit|pip-audit|safety check|npm audit|yarn audit|pnpm audit|trivy|grype|semgrep|"
    r"snyk|osv-scanner|gitleaks|codeql|dotnet list \S* ?package --vulnerable)\b"
)
MIGRATION_PREPARED = re.compile(
    r"\b(alembic (upgrade \S+ --sql|check|heads)|manage\.py (makemigrations --check|migrate "
    r"--plan|showmigrations)|dotnet ef migrations (script|list|has-pending-model-changes)|"
    r"flyway (validate|info)|prisma migrate (diff|status)|rails db:migrate:status|"
    r"liquibase (status|update-sql))\b"
)
MIGRATION_APPLIED = re.compile(
    r"\b(alembic upgrade (?!\S+ --sql)|manage\.py migrate(?! --plan)|dotnet ef database update|"
    r"flyway migrate|prisma migrate deploy|rails db:migrate(?!:)|knex migrate:latest|"
    r"sequelize(-cli)? db:migrate|liquibase update(?!-sql))"
)
BACKUP = re.compile(
    r"\b(pg_dump|pg_basebackup|mysqldump|mongodump|sqlite3 \S+ \.backup|az sql db export|"
    r"az webapp config backup create|az backup|aws rds create-db-snapshot|"
    r"gcloud sql backups create|velero backup create)\b"
)
VAULT = re.compile(r"\b(az keyvault secret (set|show)|vault kv (put|get)|aws secretsmanager)\b")
REVIEW = re.compile(r"\bgh pr (view|status)\b")


class Ran(Protocol):
    """A command that ran: a terminal `ToolUse` or one run inside the `problems` tool."""

    @property
    def command(self) -> str: ...
    @property
    def succeeded(self) -> bool: ...
    @property
    def status(self) -> str | None: ...
    @property
    def finished_ts(self) -> float | None: ...


@dataclass(frozen=True)
class _ProblemCommand:
    command: str
    succeeded: bool
    status: str | None
    finished_ts: float | None


def commands_run(facts: RunFacts, pattern: re.Pattern[str]) -> list[Ran]:
    """Every command matching `pattern` that the run ran, in order."""
    found: list[Ran] = [*facts.commands(pattern)]
    for use in facts.uses("problems"):
        for command in use.data.get("commands") or []:
            entry: Record = command
            text = f"{entry.get('name')} {entry.get('command')}"
            if pattern.search(text):
                ok = use.ok and entry.get("exit_code") == 0
                found.append(_ProblemCommand(text.strip(), ok, use.status, use.finished_ts))
    return found
