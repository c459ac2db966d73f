"""Database steps: a backup (SQLite built in, or a command), then the migrations.

The restore instructions recorded with the backup are the undo of the migration step. The
built-in SQLite restore can be run by hand:
`python -m tools.deploy.predeploy.database restore <backup> <database>`.
"""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.deploy.predeploy.build import sha256_file
from tools.deploy.predeploy.context import PredeployContext, StepOutcome, failed, passed, skipped


def backup_sqlite(database: Path, backup: Path) -> str:
    """Copy a live SQLite database with the online backup API; returns its integrity check."""
    backup.parent.mkdir(parents=True, exist_ok=True)
    source_uri = f"{database.resolve().as_uri()}?mode=ro"
    with (
        closing(sqlite3.connect(source_uri, uri=True)) as src,
        closing(sqlite3.connect(backup)) as dst,
    ):
        src.backup(dst)
    with closing(sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)) as check:
        return str(check.execute("PRAGMA integrity_check").fetchone()[0])


def restore_sqlite(backup: Path, database: Path) -> None:
    """Put a backup taken by `backup_sqlite` back in place of `database` (whole content)."""
    if not backup.is_file():
        raise FileNotFoundError(f"backup {backup} does not exist")
    backup_uri = f"{backup.resolve().as_uri()}?mode=ro"
    with (
        closing(sqlite3.connect(backup_uri, uri=True)) as src,
        closing(sqlite3.connect(database)) as dst,
    ):
        src.backup(dst)


def restore_command(backup: Path, database: Path) -> str:
    """The shell command that runs `restore_sqlite` (recorded as the undo)."""
    argv = [sys.executable, "-m", "tools.deploy.predeploy.database", "restore"]
    return shlex.join([*argv, str(backup), str(database)])


async def backup_database(p: PredeployContext) -> StepOutcome:
    """Back up the configured database before anything can migrate it."""
    settings = p.settings.database
    if not settings.sqlite_path and not settings.backup_command:
        return skipped("no database is configured ([deploy.predeploy.database])")
    evidence: dict[str, Any] = {"backup_dir": str(p.backup_dir)}
    restores: list[str] = []
    p.backup_dir.mkdir(parents=True, exist_ok=True)
    if settings.sqlite_path:
        database = p.workspace / settings.sqlite_path
        if not database.is_file():
            return failed(f"SQLite database {settings.sqlite_path} not found", evidence)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = p.backup_dir / f"{database.stem}-{p.label}-{stamp}.sqlite3"
        try:
            integrity = await asyncio.to_thread(backup_sqlite, database, backup)
        except sqlite3.Error as exc:
            return failed(f"SQLite backup of {settings.sqlite_path} failed: {exc}", evidence)
        evidence["sqlite"] = {
            "database": str(database),
            "backup": str(backup),
            "method": "sqlite3 online backup API",
            "sha256": sha256_file(backup),
            "size": backup.stat().st_size,
            "integrity": integrity,
            "restore_command": restore_command(backup, database),
        }
        if integrity != "ok":
            return failed(f"the backup failed its integrity check: {integrity}", evidence)
        p.state["backup"] = str(backup)
        restores.append(restore_command(backup, database))
    if settings.backup_command:
        result = await p.run(
            settings.backup_command,
            timeout_s=settings.timeout_s,
            passthrough=settings.env_passthrough,
        )
        evidence["command"] = result.evidence()
        if not result.ok:
            return failed(f"backup command {result.failure()}", evidence)
        evidence["files"] = [
            {"path": str(f), "sha256": sha256_file(f), "size": f.stat().st_size}
            for f in sorted(p.backup_dir.rglob("*"))
            if f.is_file() and str(f) != p.state.get("backup")
        ]
        if settings.restore_command:
            restores.append(p.expand(settings.restore_command))
        else:
            restores.append(f"restore from the files in {p.backup_dir} (no restore_command set)")
    p.state["restore"] = " && ".join(restores)
    evidence["restore"] = p.state["restore"]
    return passed(
        f"database backed up to {p.backup_dir}",
        evidence,
        undo=f"nothing to undo (a backup changes nothing); delete {p.backup_dir} when done",
    )


async def migrate_database(p: PredeployContext) -> StepOutcome:
    """Run the migrations of the fix's tree; refused without a backup to restore."""
    settings = p.settings.database
    if not settings.migrate_command:
        return skipped("no migrate_command is configured")
    restore = p.state.get("restore")
    if restore is None and not settings.allow_migrate_without_backup:
        return failed(
            "refusing to run migrations without a backup: configure sqlite_path or "
            "backup_command (or allow_migrate_without_backup = true)"
        )
    if p.approve_migration is None:
        return failed(
            "refusing to run migrations without an approval: they change the database "
            "production uses, and this run has no gate to ask"
        )
    refusal = await p.approve_migration(
        {
            "label": p.label,
            "command": p.redactor.text(settings.migrate_command),
            "database": p.placeholders()["database"] or "(set by the command)",
            "backup": p.state.get("backup") or "none",
        }
    )
    if refusal is not None:
        return failed(f"migrations not approved: {refusal}; the database was not changed")
    undo = f"restore the database: {restore}" if restore else "no backup was taken: restore by hand"
    result = await p.run(
        settings.migrate_command,
        timeout_s=settings.timeout_s,
        passthrough=settings.env_passthrough,
    )
    evidence = {"migration": result.evidence()}
    if not result.ok:
        # A half-applied migration is exactly what the backup is for.
        return failed(f"migration {result.failure()}", evidence, undo=undo)
    return passed(f"migrations applied ({result.duration_s:g} s)", evidence, undo=undo)


def _main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "restore":
        print("usage: python -m tools.deploy.predeploy.database restore BACKUP DATABASE")
        return 2
    restore_sqlite(Path(argv[1]), Path(argv[2]))
    print(f"restored {argv[2]} from {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
