"""HTML to readable text for the model: headings as `#` lines, links as `text (url)`.

Scripts, styles, navigation and footers are dropped; whitespace is collapsed except in
`<pre>`. Built on the stdlib `html.parser`, which tolerates broken markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

_SKIP = frozenset(
    [
        "script",
        "style",
        "nav",
        "footer",
        "noscript",
        "template",
        "svg",
        "head",
        "iframe",
        "object",
        "canvas",
    ]
)
_BLOCK = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "aside",
        "blockquote",
        "br",
        "hr",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "figure",
        "figcaption",
        "details",
        "summary",
        "address",
        "body",
    ]
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    def __init__(self, base_url: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self._base_url = base_url
        self._skip_stack: list[str] = []
        self._pre_depth = 0
        self._parts: list[str] = []
        self._prefix = ""
        self._links: list[tuple[str | None, int]] = []
        self.lines: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self._skip_stack in ([], ["head"]) and not self.title:
            self._in_title = True
            return
        if tag == "body" and self._skip_stack == ["head"]:
            self._skip_stack.clear()  # `</head>` is optional in HTML
        if self._skip_stack:
            if tag == self._skip_stack[-1]:
                self._skip_stack.append(tag)
            return
        if tag in _SKIP:
            self._skip_stack.append(tag)
            return
        if tag in _HEADINGS:
            self._flush()
            self._prefix = "#" * _HEADINGS[tag] + " "
        elif tag == "li":
            self._flush()
            self._prefix = "- "
        elif tag in _BLOCK or tag == "pre":
            self._flush()
        elif tag in _CELLS:
            self._parts.append(" | ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self._parts)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._parts.append(f" [image: {alt}] ")
        if tag == "pre":
            self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if self._skip_stack:
            if tag == self._skip_stack[-1]:
                self._skip_stack.pop()
            return
        if tag == "a" and self._links:
            self._end_link(*self._links.pop())
        elif tag == "pre":
            self._flush_pre()
            self._pre_depth = max(self._pre_depth - 1, 0)
        elif tag in _HEADINGS or tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip_stack:
            self._parts.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _end_link(self, href: str | None, start: int) -> None:
        text = _SPACES.sub(" ", "".join(self._parts[start:])).strip()
        if not href or href.startswith(("#", "javascript:", "data:")):
            return
        url = urljoin(self._base_url, href) if self._base_url else href
        if text and text != url:
            self._parts.append(f" ({url})")
        elif not text:
            self._parts.append(url)

    def _flush(self) -> None:
        if self._pre_depth:
            self._flush_pre()
            return
        text = _SPACES.sub(" ", "".join(self._parts)).strip()
        self._parts.clear()
        if text:
            self.lines.append(self._prefix + text)
        self._prefix = ""

    def _flush_pre(self) -> None:
        text = "".join(self._parts).strip("\n")
        self._parts.clear()
        if text.strip():
            self.lines.append(text)


def html_to_text(html: str, base_url: str | None = None) -> str:
    """Convert an HTML document to plain text.

    Args:
        html: The markup (need not be well-formed).
        base_url: Where the page came from; relative links are made absolute against it.

    Returns:
        One line per block; a `# title` line first when the page has a title that its
        first heading does not repeat.
    """
    parser = _TextExtractor(base_url)
    parser.feed(html)
    parser.close()
    lines = parser.lines
    title = _SPACES.sub(" ", parser.title).strip()
    if title and not (lines and lines[0].lstrip("# ") == title):
        lines = [f"# {title}", *lines]
    return "\n".join(lines)
