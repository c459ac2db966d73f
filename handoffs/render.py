"""Rendering the report documents with the jinja2 templates in `prompts/`.

Markdown templates render without escaping (escaping would mangle the text); HTML templates
render with autoescape on, and only our own SVG chart is marked safe. The HTML is
self-contained: inline CSS and SVG, no script, font or stylesheet from anywhere.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from agent.definitions import PROMPTS_DIR


@cache
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS_DIR),
        autoescape=html,  # noqa: S701 (Markdown must not be HTML-escaped; HTML is)
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, default=str)  # pyright: ignore[reportUnknownLambdaType]
    env.filters["pct"] = _pct
    env.filters["ms"] = _ms
    env.filters["cell"] = _cell
    return env


def render_markdown(template: str, **context: Any) -> str:
    """Render a Markdown template from `prompts/`."""
    return _environment(False).get_template(template).render(**context)


def render_html(template: str, *, chart_svg: str | None = None, **context: Any) -> str:
    """Render an HTML template from `prompts/`; `chart_svg` is inserted as markup."""
    # Our own SVG, built with every text escaped (svg_chart): safe to insert as markup.
    chart = Markup(chart_svg) if chart_svg else None  # noqa: S704
    return _environment(True).get_template(template).render(chart_svg=chart, **context)


def _cell(value: Any) -> str:
    # One Markdown table cell: a `|` or a line break in an error message would end it.
    return " ".join(str(value).split()).replace("|", "\\|")


def _pct(value: Any) -> str:
    return f"{100 * float(value):.1f}%" if isinstance(value, int | float) else "-"


def _ms(value: Any) -> str:
    return f"{float(value):.1f} ms" if isinstance(value, int | float) else "-"
