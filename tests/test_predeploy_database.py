"""Pre-deployment database steps: SQLite backup, migrations, and the recorded restore."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from test_predeploy import GitRepo, ReleaseManager, by_step, make_ctx, predeploy

from tools.base import Effect, ToolContext
from tools.deploy.predeploy.database import restore_sqlite
from tools.deploy.predeploy.settings import DatabaseSettings, PredeploySettings, TagSettings

NO_TAG = TagSettings(enabled=False)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "shop")


_MIGRATION = """\
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    db.execute("ALTER TABLE orders ADD COLUMN coupon TEXT")
    db.execute("UPDATE orders SET total = 0")
print("applied 0002_coupon")
"""


def make_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        db.executemany("INSERT INTO orders (total) VALUES (?)", [(9.5,), (20.0,)])
        db.commit()


def orders(path: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT * FROM orders ORDER BY id").fetchall()


def with_migration(repo: GitRepo) -> Path:
    repo.commit_on_fix("migrate.py", _MIGRATION, "migration")
    database = repo.root / "data" / "shop.db"
    database.parent.mkdir()
    make_database(database)
    return database


def test_sqlite_is_backed_up_before_the_migration_and_the_recorded_undo_restores_it(
    repo: GitRepo,
) -> None:
    database = with_migration(repo)
    before = orders(database)
    db = DatabaseSettings(
        sqlite_path="data/shop.db", migrate_command="{python} migrate.py {database}"
    )
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.passed, report.text()
    steps = by_step(report)
    sqlite = steps["backup"]["evidence"]["sqlite"]
    backup = Path(sqlite["backup"])
    assert backup.is_file() and sqlite["integrity"] == "ok"
    assert orders(backup) == before
    assert orders(database) == [(1, 0.0, None), (2, 0.0, None)]  # migrated
    migration = steps["migrate"]["evidence"]["migration"]
    assert "applied 0002_coupon" in migration["output_excerpt"]
    assert sqlite["restore_command"] in steps["migrate"]["undo"]
    # The undo works as recorded: run the restore command it names.
    subprocess.run(shlex.split(sqlite["restore_command"]), check=True, capture_output=True)
    assert orders(database) == before
    assert report.rollback_plan()[0]["step"] == "migrate"


def test_built_in_restore_replaces_the_whole_database_content(tmp_path: Path) -> None:
    database = tmp_path / "a.db"
    make_database(database)
    backup = tmp_path / "a.backup"
    with closing(sqlite3.connect(database)) as src, closing(sqlite3.connect(backup)) as dst:
        src.backup(dst)
    with closing(sqlite3.connect(database)) as db:
        db.execute("DROP TABLE orders")
        db.execute("CREATE TABLE other (x)")
        db.commit()

    restore_sqlite(backup, database)

    assert orders(database) == [(1, 9.5), (2, 20.0)]
    with closing(sqlite3.connect(database)) as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("orders",)]


def test_migrations_are_refused_without_a_backup(repo: GitRepo) -> None:
    ctx = make_ctx(repo)
    db = DatabaseSettings(migrate_command="{python} -c \"print('migrating')\"")

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.failed_step == "migrate"
    assert report.reason is not None and "without a backup" in report.reason
    assert "migration" not in by_step(report)["migrate"]["evidence"]


def test_a_failed_migration_keeps_the_restore_in_the_rollback_plan(repo: GitRepo) -> None:
    database = with_migration(repo)
    failing = "{python} -c \"import sys; print('0002 failed: locked'); sys.exit(3)\""
    db = DatabaseSettings(sqlite_path=str(database), migrate_command=failing)
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.failed_step == "migrate"
    assert report.reason == "migration exited 3: 0002 failed: locked"
    plan = report.rollback_plan()
    assert plan[0]["step"] == "migrate"
    assert "tools.deploy.predeploy.database restore" in plan[0]["undo"]


def test_a_backup_command_runs_with_the_backup_dir_and_records_the_restore(
    repo: GitRepo,
) -> None:
    write = "import pathlib, sys; pathlib.Path(sys.argv[1], 'db.dump').write_text('x')"
    dump = f'{{python}} -c "{write}" {{backup_dir}}'
    db = DatabaseSettings(backup_command=dump, restore_command="pg_restore {backup_dir}/db.dump")
    ctx = make_ctx(repo)

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.passed, report.text()
    evidence = by_step(report)["backup"]["evidence"]
    [dumped] = evidence["files"]
    assert Path(dumped["path"]).name == "db.dump" and dumped["size"] == 1
    assert evidence["restore"] == f"pg_restore {evidence['backup_dir']}/db.dump"


def test_migrations_ask_the_gate_as_a_production_change_naming_the_command(
    repo: GitRepo,
) -> None:
    database = with_migration(repo)
    db = DatabaseSettings(
        sqlite_path="data/shop.db", migrate_command="{python} migrate.py {database}"
    )
    manager = ReleaseManager()
    ctx = make_ctx(repo, approver=manager)

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.passed, report.text()
    [asked] = manager.requests
    assert asked.tool_name == "hotfix_migrate" and asked.effect is Effect.PRODUCTION
    assert not asked.run_scope_allowed
    assert asked.call.args["command"] == "{python} migrate.py {database}"
    assert asked.call.args["database"] == str(database)
    assert asked.call.args["backup"].endswith(".sqlite3")


def test_a_denied_migration_leaves_the_database_unchanged(repo: GitRepo) -> None:
    database = with_migration(repo)
    before = orders(database)
    db = DatabaseSettings(
        sqlite_path="data/shop.db", migrate_command="{python} migrate.py {database}"
    )
    ctx = make_ctx(repo, approver=ReleaseManager("deny"))

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.failed_step == "migrate"
    assert report.reason is not None and "migrations not approved" in report.reason
    assert "business hours" in report.reason
    assert orders(database) == before
    assert by_step(report)["backup"]["status"] == "passed"


def test_without_a_gate_to_ask_no_migration_runs(repo: GitRepo) -> None:
    database = with_migration(repo)
    before = orders(database)
    db = DatabaseSettings(
        sqlite_path="data/shop.db", migrate_command="{python} migrate.py {database}"
    )
    gated = make_ctx(repo)
    ctx = ToolContext(gated.workspace, gated.config, gated.redactor, gated.journal, "run-1")

    report = predeploy(ctx, PredeploySettings(tag=NO_TAG, database=db))

    assert report.failed_step == "migrate"
    assert report.reason is not None and "no gate to ask" in report.reason
    assert orders(database) == before
