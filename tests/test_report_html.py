"""report.html is self-contained and its timeline chart tells the story on its own."""

from __future__ import annotations

import re
from pathlib import Path

from report_runs import deployed_run, rolled_back_run

from handoffs.report import write_outputs
from handoffs.report_model import ReportDocument
from handoffs.svg_chart import Chart, Lane, Marker, Series, render_svg


def _svg(html: str) -> str:
    match = re.search(r"<svg.*?</svg>", html, re.S)
    assert match is not None, "no chart in the page"
    return match.group(0)


def test_html_report_loads_nothing_from_anywhere_and_links_only_dashboards(
    tmp_path: Path,
) -> None:
    run = rolled_back_run(tmp_path)

    paths = write_outputs(run.run_dir)

    html = paths.html.read_text()
    lowered = html.lower()
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered
    assert "url(" not in lowered and "<iframe" not in lowered and "<img" not in lowered
    assert not re.search(r"\bsrc\s*=", lowered)
    dashboards = {
        d.url for d in ReportDocument.model_validate_json(paths.json.read_text()).dashboards
    }
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert set(hrefs) <= dashboards
    assert not re.search(r"https?://", _svg(html))


def test_chart_of_a_rolled_back_run_marks_the_failure_and_the_rollback(tmp_path: Path) -> None:
    run = rolled_back_run(tmp_path)

    svg = _svg(write_outputs(run.run_dir).html.read_text())

    assert "v1.4.3 replacing v1.0.0 (blue-green): ROLLED BACK" in svg
    assert re.search(r">failure: bake:v1\.4\.3: error rate [\d.]+% \(\d+/\d+\) is above", svg)
    assert ">rollback: traffic back on v1.0.0" in svg
    assert ">max 2%<" in svg  # the threshold the failing window crossed
    assert "shift 100% to v1.4.3 ✓" in svg and "bake:v1.4.3 fail ✗" in svg
    assert 'fill="#cf222e" fill-opacity="0.75"' in svg  # the failing window, in red


def test_chart_of_a_deployed_run_shows_the_promotion_and_no_rollback(tmp_path: Path) -> None:
    run = deployed_run(tmp_path)

    svg = _svg(write_outputs(run.run_dir).html.read_text())

    assert ": DEPLOYED" in svg and ">promoted v1.4.3<" in svg
    assert "rollback:" not in svg and "failure:" not in svg


def test_chart_escapes_every_text_it_draws() -> None:
    chart = Chart(
        title="<b>v2</b>",
        subtitle="a & b",
        t_end=10.0,
        lanes=[Lane("Traffic", "%", 100.0, [Series("<x>", "step", "#000", [(0.0, 50.0)])])],
        markers=[Marker(1.0, "<script>alert(1)</script>", "failure")],
    )

    svg = render_svg(chart)

    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "a &amp; b" in svg
