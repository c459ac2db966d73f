"""Telling a secret from a reference to one, and a secret in code from a variable name.

Both the diff scan and the configuration check use the redactor's patterns to find secrets.
Those patterns are made for logs, where `password=x` is always a value; in source code it is
usually a variable. So before asking the redactor, references (`${DB_PASSWORD}`,
`os.environ["DB_PASSWORD"]`, Key Vault references...) and, in code, unquoted expressions
after `=` / `:` are replaced by a neutral word.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from agent.redaction import Redactor

REFERENCE = re.compile(
    r"""
    \$\{[^}\s]+\}                                   # ${VAR}
    | \$\([^)\s]+\)                                 # $(VAR)
    | \$[A-Za-z_][A-Za-z0-9_]*                      # $VAR
    | %[A-Za-z_][A-Za-z0-9_]*%                      # %VAR%
    | \{\{[^}]*\}\}                                 # {{ secrets.X }}
    | @Microsoft\.KeyVault\([^)]*\)                 # App Service Key Vault reference
    | os\.environ(?:\.get)?\s*[\[(][^\])]*[\])]     # os.environ["X"], os.environ.get("X")
    | os\.getenv\([^)]*\)
    | process\.env(?:\.[A-Za-z_]\w*|\[[^\]]*\])
    | Environment\.GetEnvironmentVariable\([^)]*\)
    | System\.getenv\([^)]*\)
    """,
    re.X,
)
# Whole values that stand for a secret kept elsewhere: `env:NAME`, `keyvault:...`, `<set-me>`.
_REFERENCE_VALUE = re.compile(
    r"(?i)^(?:(?:env|secret|secrets|vault|keyvault|kv|ssm|secretsmanager):\S+|<[^<>]+>|\*+)$"
)
# In code, an unquoted identifier/expression after `=` or `:` is a variable, not a literal.
_CODE_EXPRESSION = re.compile(r"([=:]\s*)([A-Za-z_][\w.]*(?:\[[^\]]*\]|\([^)]*\))*)")
_NEUTRAL = '""'  # an empty string literal: no pattern takes it for a value
_CODE_SUFFIXES = frozenset(
    ".py .pyi .js .jsx .ts .tsx .mjs .cjs .cs .fs .vb .java .kt .kts .go .rb .php .rs .swift "
    ".scala .c .h .cc .cpp .hpp .m .sh .bash .ps1 .psm1 .lua .dart .ex .exs .sql .razor "
    ".cshtml".split()
)


def is_reference(value: str) -> bool:
    """Whether a setting's value points at a secret instead of holding it."""
    text = value.strip().strip("\"'")
    return not text or bool(REFERENCE.fullmatch(text) or _REFERENCE_VALUE.match(text))


def is_code(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in _CODE_SUFFIXES


def neutralise(line: str, code: bool) -> str:
    """`line` with references (and, in code, unquoted expressions) made harmless."""
    line = REFERENCE.sub(_NEUTRAL, line)
    if code:
        line = _CODE_EXPRESSION.sub(lambda m: m.group(1) + _NEUTRAL, line)
    return line


def holds_secret(line: str, path: str, redactor: Redactor) -> bool:
    """Whether the redactor's patterns (or known secret values) find a secret in `line`."""
    plain = neutralise(line, is_code(path))
    return redactor.text(plain) != plain
