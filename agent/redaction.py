"""Masking of secrets before anything leaves the process's memory.

Everything written to the journal, the terminal, a report, or sent to the model passes
through one `Redactor`. It knows two kinds of secret: exact values (from environment
variables and config keys that look secret) and well-known token shapes.

Every pattern runs in linear time on hostile input (a 5 MB tool output, a minified file of
`a.b.c.d…`): each is guarded by a cheap substring check, and none can restart a long scan
at every position of a long token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MASK = "[REDACTED]"

# Environment variable names whose values are secrets.
_SECRET_NAME = re.compile(
    r"(?i)(secret|token|passw(or)?d|pwd|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|connection[_-]?string|conn[_-]?str|sas|signature|auth(?!or))"
)
# Names that match `_SECRET_NAME` but hold no secret: the shell's working directories (their
# value is the workspace path, which would otherwise be masked everywhere) and the ssh agent
# socket.
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK"})
# Values shorter than this are not treated as secrets: masking "1" everywhere helps no one.
_MIN_SECRET_LENGTH = 6
# A run of token characters: shapes anchored with `(?<!…)` start only where a run starts,
# so a 1 MB run like `eyJa-eyJa-…` is scanned once, not once per `eyJ`.
_RUN = r"A-Za-z0-9_\-"


@dataclass(frozen=True)
class _Shape:
    """A token shape: `pattern` is masked; `hint` (lowercase) must occur for it to match."""

    label: str
    pattern: re.Pattern[str]
    hint: str
    credential: bool = True  # False: masked, but too fuzzy to refuse a call over


def _shape(label: str, pattern: str, hint: str, *, credential: bool = True) -> _Shape:
    return _Shape(label, re.compile(pattern, re.S), hint, credential)


# PEM private keys, masked as whole blocks by `_mask_pem`.
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]{0,40}PRIVATE KEY-----")
_PEM_LABEL = "a PEM private key"

_TOKEN_SHAPES: tuple[_Shape, ...] = (
    # Authorization headers and bearer tokens ("basic authentication" is prose, so only the
    # header form is a reason to refuse a call).
    _shape(
        "an Authorization header",
        r"(?i)(?<=authorization: bearer )[A-Za-z0-9\-._~+/]{8,}+=*"
        r"|(?<=authorization: basic )[A-Za-z0-9+/]{8,}+=*",
        "authorization: ",
    ),
    _shape(
        "a bearer token", r"(?i)(?<=bearer )[A-Za-z0-9\-._~+/]{8,}+=*", "bearer ", credential=False
    ),
    _shape(
        "a basic-auth token", r"(?i)(?<=basic )[A-Za-z0-9+/]{8,}+=*", "basic ", credential=False
    ),
    # Anthropic / OpenAI / GitHub / Slack style API keys.
    _shape("an Anthropic API key", r"sk-ant-[A-Za-z0-9_\-]{10,}+", "sk-ant-"),
    _shape("an API key", r"\bsk-[A-Za-z0-9]{20,}+", "sk-"),
    _shape("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{30,}+", "_"),
    _shape("a Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}+", "xox"),
    # AWS access key ids.
    _shape("an AWS access key id", r"\bAKIA[0-9A-Z]{16}\b", "akia"),
    # JWTs (Entra access tokens among them).
    _shape(
        "a JWT",
        rf"(?<![{_RUN}])eyJ[{_RUN}]{{8,}}+\.[{_RUN}]{{8,}}+\.[{_RUN}]{{8,}}+",
        "eyj",
    ),
    # Key=value pairs inside Azure connection strings (storage, service bus, app insights).
    _shape("a storage account key", r"(?i)(?<=AccountKey=)[^;\s\"']+", "accountkey="),
    _shape("a shared access key", r"(?i)(?<=SharedAccessKey=)[^;\s\"']+", "sharedaccesskey="),
    _shape(
        "a shared access signature",
        r"(?i)(?<=SharedAccessSignature=)[^;\s\"']+",
        "sharedaccesssignature=",
    ),
    _shape("a connection-string password", r"(?i)(?<=Password=)[^;\s\"']+", "password="),
    _shape("a connection-string password", r"(?i)(?<=Pwd=)[^;\s\"']+", "pwd="),
    # SAS query strings: the signature parameter.
    _shape("a SAS signature", r"(?i)(?<=[?&]sig=)[^&\s\"']+", "sig="),
    # Secrets in URLs: scheme://user:password@host.
    _shape("a password in a URL", r"(?<=://)[^/\s:@]++:[^/\s@]++(?=@)", "://"),
)

# `NAME=value` / `name: value` where NAME says secret (.env files, YAML, logs). The value is
# masked, the name kept so a reader still knows what was there. Found keyword first, then
# extended by hand: a regex starting at every word boundary would be quadratic on `a-a-a…`.
_ASSIGNMENT_KEYWORD = re.compile(
    r"(?i)secret|passw(?:or)?d|api[_\-]?key|access[_\-]?key|private[_\-]?key|"
    r"auth[_\-]?token|access[_\-]?token|client[_\-]?secret|connection[_\-]?string"
)
_ASSIGNMENT_HINTS = ("secret", "passw", "api", "access", "private", "auth", "connection")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-]*+")
_ASSIGNMENT_TAIL = re.compile(r"(\"?\s*[=:]\s*\"?)(?!\[REDACTED\])([^\s\"',;]{4,}+)")


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
        return cls(env[name] for name in secret_env_names(env, extra_names))

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
        text = _mask_pem(text)
        lowered = text.lower()
        for shape in _TOKEN_SHAPES:
            if shape.hint in lowered:
                text = shape.pattern.sub(MASK, text)
                lowered = text.lower()
        return _mask_assignments(text, lowered)

    def find_secret(self, text: str) -> str | None:
        """What kind of secret `text` holds (`"a known secret value"`, `"a JWT"`…), or None.

        Only known values and unmistakable credential shapes count; the fuzzy patterns that
        `text` also masks (`password: …` assignments, a bare `bearer …`) do not.
        """
        if self._pattern is not None and self._pattern.search(text):
            return "a known secret value"
        if _mask_pem(text) is not text:
            return _PEM_LABEL
        lowered = text.lower()
        for shape in _TOKEN_SHAPES:
            if shape.credential and shape.hint in lowered and shape.pattern.search(text):
                return shape.label
        return None

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


def _mask_pem(text: str) -> str:
    """`text` with each BEGIN…END private-key block masked; `text` itself when there is none."""
    if "PRIVATE KEY-----" not in text:
        return text
    parts: list[str] = []
    done = 0
    while (begin := _PEM_BEGIN.search(text, done)) is not None:
        end = _PEM_END.search(text, begin.end())
        if end is None:
            break  # no END after this BEGIN means none after any later BEGIN either
        parts += [text[done : begin.start()], MASK]
        done = end.end()
    return "".join([*parts, text[done:]]) if parts else text


def _mask_assignments(text: str, lowered: str) -> str:
    if not any(hint in lowered for hint in _ASSIGNMENT_HINTS):
        return text
    parts: list[str] = []
    done = 0  # text before this index is settled
    position = 0
    while (keyword := _ASSIGNMENT_KEYWORD.search(text, position)) is not None:
        name_end = _NAME_CHARS.match(text, keyword.end())
        end = name_end.end() if name_end is not None else keyword.end()
        tail = _ASSIGNMENT_TAIL.match(text, end)
        if tail is None:
            position = end if end > keyword.start() else keyword.start() + 1
            continue
        parts += [text[done : tail.start(2)], MASK]
        done = position = tail.end(2)
    return "".join([*parts, text[done:]]) if parts else text


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
    return {
        name
        for name in environ
        if name in extra or (name not in _NOT_SECRET_NAMES and _SECRET_NAME.search(name))
    }
