"""Shaping tool output for the model: redacted, size-capped, and marked as untrusted data."""

from __future__ import annotations

UNTRUSTED_TAG = "untrusted-data"


def cap_text(text: str, limit: int) -> tuple[str, bool]:
    """Keep the head and tail of `text` within `limit` characters, saying what was cut."""
    if len(text) <= limit:
        return text, False
    keep = max(limit - 120, 100)
    head = text[: keep * 3 // 4]
    tail = text[len(text) - keep // 4 :]
    cut = len(text) - len(head) - len(tail)
    notice = f"\n[... {cut} characters truncated by hotfix-agent; output was {len(text)} ...]\n"
    return head + notice + tail, True


def wrap_untrusted(tool_name: str, text: str) -> str:
    """Mark tool output as data from outside the harness, so no text in it reads as ours."""
    # Neutralise a closing tag inside the data so it cannot end the wrapper early.
    body = text.replace(f"</{UNTRUSTED_TAG}", f"<\\/{UNTRUSTED_TAG}")
    return f'<{UNTRUSTED_TAG} source="{tool_name}">\n{body}\n</{UNTRUSTED_TAG}>'
