"""HTML to readable text for the `fetch` tool."""

from __future__ import annotations

from tools.web.html_text import html_to_text


def test_headings_become_hash_lines_and_links_keep_absolute_urls() -> None:
    html = (
        "<h1>Runbook</h1><h2>Rollback</h2>"
        '<p>Run   the <a href="steps/undo.html">undo steps</a>\n now.</p>'
    )
    assert html_to_text(html, base_url="https://docs.example/ops/index.html") == (
        "# Runbook\n## Rollback\nRun the undo steps (https://docs.example/ops/steps/undo.html) now."
    )


def test_scripts_styles_navigation_and_footers_are_dropped() -> None:
    html = (
        "<html><head><title>T</title><script>evil()</script></head><body>"
        "<nav><ul><li>Menu</li></ul></nav><style>p {}</style><p>Body</p>"
        "<footer><nav>nested</nav>Copyright</footer><p>After</p></body></html>"
    )
    assert html_to_text(html) == "# T\nBody\nAfter"


def test_body_survives_a_missing_head_end_tag() -> None:
    assert html_to_text("<html><head><title>Status</title><body><p>All good</p>") == (
        "# Status\nAll good"
    )


def test_list_items_and_preformatted_text_keep_their_shape() -> None:
    html = "<ul><li>one</li><li>two</li></ul><pre>a  b\n  c</pre>"
    assert html_to_text(html) == "- one\n- two\na  b\n  c"


def test_fragment_and_javascript_links_keep_only_their_text() -> None:
    html = '<p><a href="#top">Top</a> and <a href="javascript:void(0)">menu</a></p>'
    assert html_to_text(html) == "Top and menu"
