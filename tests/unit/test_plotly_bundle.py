"""The board's plotly.js bundle: downloads are checked against the registry's integrity string,
and every chart the board builds uses a trace type that the cartesian bundle draws."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import plotly
import pytest

from dashboard import figures, plotly_bundle
from dashboard.app import build_app


def test_a_download_must_match_the_registrys_integrity() -> None:
    data = b"window.Plotly = {};"
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    plotly_bundle._check_integrity(data, good, "https://registry.example/p.tgz")
    with pytest.raises(ValueError, match=r"https://registry\.example/p\.tgz: sha512 is .* the registry says"):
        plotly_bundle._check_integrity(data + b" ", good, "https://registry.example/p.tgz")
    with pytest.raises(ValueError, match="unsupported integrity algorithm 'md5'"):
        plotly_bundle._check_integrity(data, "md5-abc", "https://registry.example/p.tgz")


def _header_version(script: Path, build: str) -> str:
    """The version in a plotly.js file's licence header, e.g. `plotly.js (cartesian - minified) v4.1.1`."""
    head = script.read_text(encoding="utf-8")[:300]
    found = re.search(rf"\* plotly\.js {re.escape(build)}v(\d+\.\d+\.\d+)\n", head)
    assert found, f"{script}: no plotly.js {build}header in {head!r}"
    return found.group(1)


def test_the_bundle_is_the_plotly_js_that_plotly_writes_figures_for() -> None:
    """The installed bundle's own header names the version of the full plotly.js that plotly ships."""
    shipped = _header_version(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", "")
    bundle = plotly_bundle.installed()
    assert bundle is not None, "the cartesian bundle is installed by scripts/setup.sh"
    assert _header_version(bundle, "(cartesian - minified) ") == shipped
    assert bundle.name == f"plotly-cartesian-{shipped}.min.js"
    assert sorted(bundle.parent.glob("plotly-cartesian-*")) == [bundle]


def _trace_types(figure) -> set[str]:
    data = figure["data"] if isinstance(figure, dict) else figure.to_plotly_json()["data"]
    return {trace.get("type", "scatter") for trace in data}


def test_every_chart_the_board_draws_is_of_a_type_the_bundle_holds() -> None:
    """Long series included: above 1,000 points they once became WebGL (scattergl), which the bundle lacks."""
    build_app()  # pages register themselves with the app
    from dashboard.pages import overview

    hours = [{"bucket": 1_790_000_000 + 3600 * i, "value": float(i), "site": f"T2_S{i % 8}", "jobs": 3, "failed": 1,
              "failure_rate": 0.3, "cpu_efficiency": 0.8} for i in range(5000)]
    keyed = [{"site": f"T2_S{i}", "exit_code": 8000 + i % 40, "value": float(i)} for i in range(200)]
    built = [
        figures.time_series(hours, "jobs", "sum", split="site"),
        figures.time_series(hours[:10], "jobs", "sum"),
        figures.pie(keyed[:5], "site", "jobs", "sum"),
        figures.bars(keyed, "site", "exit_code", "jobs", "sum", [r["site"] for r in keyed[:15]]),
        figures.heatmap(keyed, "site", "exit_code", "jobs", "sum", [r["site"] for r in keyed], list(range(8000, 8040))),
        figures.pie_grid([{"workflow": "w", "site": "s", "exit_code": 8021, "count": 2}], "workflow", "site", "exit_code", ["w"], ["s"]),
        figures.empty_figure("nothing"),
        overview._throughput(hours, "minute", 1.0),
        overview._rates(hours, "minute"),
    ]
    used = set().union(*(_trace_types(figure) for figure in built))
    assert used and used <= plotly_bundle.TRACE_TYPES, used - plotly_bundle.TRACE_TYPES

