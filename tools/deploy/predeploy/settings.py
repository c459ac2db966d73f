"""`[deploy.predeploy]`: what to check and prepare before a hotfix goes anywhere near production.

Commands are split like a shell would (`shlex`) and run without a shell, in a worktree of the
fix, with a scrubbed environment. They may use placeholders: `{python}`, `{version}`,
`{label}`, `{ref}`, `{commit}`, `{worktree}`, `{workspace}`, `{artifact_dir}`,
`{backup_dir}`, `{database}` and, after a SQLite backup, `{backup}`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildSettings(_Section):
    """Build and package: `command` must leave files (or folders) matching `artifact_glob`.

    Folders are zipped; every artifact is copied to `.hotfix/artifacts/<label>/` and its
    sha256 recorded (also in a `SHA256SUMS` file there).
    """

    command: str | None = None
    artifact_glob: str | None = None
    timeout_s: float = Field(default=1800.0, gt=0)

    @model_validator(mode="after")
    def _glob_with_command(self) -> BuildSettings:
        if self.command and not self.artifact_glob:
            raise ValueError("a build command needs artifact_glob (e.g. 'dist/*.whl')")
        return self


class SecuritySettings(_Section):
    """Secret scan of the fix's diff and an optional dependency audit.

    `base_ref` is what the diff is taken against (default: `origin/HEAD`, `main`, `master`,
    else `HEAD`); the scan looks at added lines only. `audit_command` fails the step when it
    exits non-zero, or when its output matches `audit_fail_pattern` (a regex; for
    `dotnet list package --vulnerable`, which exits 0 either way, a default is built in).
    """

    scan_diff: bool = True
    base_ref: str | None = None
    audit_command: str | None = None
    audit_fail_pattern: str | None = None
    timeout_s: float = Field(default=600.0, gt=0)


class ConfigCheckSettings(_Section):
    """Required settings and inlined secrets.

    `settings_file` (in the fix's tree: .json, .toml, .yaml, .ini/.cfg or a .env file) must
    define each of `required_settings` with a non-empty value; nested keys are written
    `Section.Key`, `Section:Key` or `Section__Key`. Without a file the names are looked up
    in the environment. Secret-looking settings must hold references (`${VAR}`, Key Vault
    references, `env:`...), never the secret itself.
    """

    required_settings: list[str] = Field(default_factory=list[str])
    settings_file: str | None = None


class DatabaseSettings(_Section):
    """Backup before migrations; how to restore is recorded as the undo.

    `sqlite_path` (relative to the workspace) is backed up with SQLite's online backup API;
    other databases use `backup_command` (write into `{backup_dir}`). `migrate_command`
    runs in the fix's worktree and is refused without a backup unless
    `allow_migrate_without_backup`. `env_passthrough` names variables (credentials) the
    commands get although they look secret.
    """

    sqlite_path: str | None = None
    backup_command: str | None = None
    migrate_command: str | None = None
    restore_command: str | None = None
    env_passthrough: list[str] = Field(default_factory=list[str])
    allow_migrate_without_backup: bool = False
    timeout_s: float = Field(default=1800.0, gt=0)


class TagSettings(_Section):
    """An annotated git tag on the fix's commit; `{version}`, `{label}`, `{short}` expand."""

    enabled: bool = True
    name_template: str = "hotfix-{version}"


class PredeploySettings(_Section):
    """The `[deploy.predeploy]` section; steps run in this order, each optional."""

    run_tests: bool = True
    build: BuildSettings = Field(default_factory=BuildSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    config_check: ConfigCheckSettings = Field(default_factory=ConfigCheckSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    tag: TagSettings = Field(default_factory=TagSettings)


def predeploy_settings(config: object) -> PredeploySettings:
    """`config.deploy.predeploy`, or the defaults when the section is not there."""
    raw: Any = getattr(getattr(config, "deploy", None), "predeploy", None)
    if isinstance(raw, PredeploySettings):
        return raw
    return PredeploySettings.model_validate(raw) if raw is not None else PredeploySettings()
