"""Masking of secrets before anything leaves the process's memory.

Everything written to the journal, the terminal, a report, or sent to the model passes
through one `Redactor`. It knows two kinds of secret: exact values (from environment
variables and config keys that look secret) and well-known token shapes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[REDACTED]"

# Environment variable names whose values are secrets.
_SECRET_NAME = re.compile(
    r"(?i)(secret|token|passw(or)?d|pwd|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|connection[_-]?string|conn[_-]?str|sas|signature|auth(?!or))"
)
# Values shorter than this are not treated as secrets: masking "1" everywhere helps no one.
_MIN_SECRET_LENGTH = 6

_TOKEN_SHAPES: tuple[re.Pattern[str], ...] = (
    # PEM private keys (whole block).
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    # Authorization headers and bearer tokens.
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9\-._~+/]{8,}=*"),
    re.compile(r"(?i)(?<=basic )[A-Za-z0-9+/]{8,}=*"),
    # Anthropic / OpenAI / GitHub / Slack style API keys.
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{10,}"),
    re.compile(r"\bsk-[A-Za-z0-9]{20,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    # AWS access key ids.
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    # JWTs (Entra access tokens among them).
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    # Key=value pairs inside Azure connection strings (storage, service bus, app insights).
    re.compile(r"(?i)(?<=AccountKey=)[^;\s\"']+"),
    re.compile(r"(?i)(?<=SharedAccessKey=)[^;\s\"']+"),
    re.compile(r"(?i)(?<=SharedAccessSignature=)[^;\s\"']+"),
    re.compile(r"(?i)(?<=Password=)[^;\s\"']+"),
    re.compile(r"(?i)(?<=Pwd=)[^;\s\"']+"),
    # SAS query strings: the signature parameter.
    re.compile(r"(?i)(?<=[?&]sig=)[^&\s\"']+"),
    # Secrets in URLs: scheme://user:password@host.
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
)


# `NAME=value` / `name: value` where NAME says secret (.env files, YAML, logs). The value
# group is masked, the name kept so a reader still knows what was there.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b([A-Z0-9_.\-]*(?:secret|passw(?:or)?d|api[_\-]?key|access[_\-]?key|private[_\-]?key|"
    r"auth[_\-]?token|access[_\-]?token|client[_\-]?secret|connection[_\-]?string)[A-Z0-9_.\-]*)"
    r"(\"?\s*[=:]\s*\"?)(?!\[REDACTED\])([^\s\"',;]{4,})"
)


class Redactor:
    """Replaces secret values and token shapes with `[REDACTED]`."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add_values(secret_values)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, extra_names: Iterable[str] = ()
    ) -> Redactor:
        """Collect secret values from environment variables with secret-looking names."""
        env = os.environ if environ is None else environ
        names = set(extra_names)
        values = [v for k, v in env.items() if _SECRET_NAME.search(k) or k in names]
        return cls(values)

    def add_values(self, values: Iterable[str]) -> None:
        """Treat each value (long enough to be meaningful) as a secret from now on."""
        added = {v for v in values if len(v) >= _MIN_SECRET_LENGTH} - self._values
        if not added:
            return
        self._values |= added
        # Longest first so a secret containing another is masked whole.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    @property
    def value_count(self) -> int:
        return len(self._values)

    def text(self, text: str) -> str:
        """Mask every known secret in `text`."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        for shape in _TOKEN_SHAPES:
            text = shape.sub(MASK, text)
        return _SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + m.group(2) + MASK, text)

    def value(self, value: Any) -> Any:
        """Mask secrets anywhere inside a JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._field(str(k), v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    def _field(self, key: str, value: Any) -> Any:
        # A field named like a secret is masked whole even when its value has no known shape.
        if isinstance(value, str) and value and is_secret_name(key):
            return MASK
        return self.value(value)


def is_secret_name(name: str) -> bool:
    """True when a setting or field name says its value is a secret (`DB_PASSWORD`, `apiKey`)."""
    return bool(_SECRET_FIELD.search(name))


# Stricter than `_SECRET_NAME`: used on every dict key, where `max_tokens` or `author` are
# ordinary fields.
_SECRET_FIELD = re.compile(
    r"(?i)(secret|passw(or)?d|(^|[_\-.])pwd$|api[_\-]?key|access[_\-]?key|private[_\-]?key|"
    r"connection[_\-]?string|(^|[_\-.])(auth|access|bearer|refresh|sas|id)?[_\-]?token$|"
    r"^authorization$|credential)"
)


def secret_env_names(environ: Mapping[str, str], extra_names: Iterable[str] = ()) -> set[str]:
    """Names in `environ` whose values `Redactor.from_environment` treats as secrets.

    Used to scrub the environment of child processes (`tools._process.scrubbed_env`).
    """
    extra = set(extra_names)
    return {name for name in environ if _SECRET_NAME.search(name) or name in extra}
