"""The board's pure pieces: units, URL state, timeframes, precision choice."""

from __future__ import annotations

import pytest

from dashboard import timeframe, units
from dashboard.state import View, params_of, parse_view, query_filters, search_with, view_search

NOW = 1795392000 + 13 * 3600 + 7  # 2026-11-23T13:00:07Z, a Monday
LADDER = [("minute", 2 * 86400), ("hour", 30 * 86400), ("day", 365 * 86400), ("month", None)]


def test_times_read_as_hours_minutes_seconds() -> None:
    assert units.hms(0) == "0:00:00"
    assert units.hms(3725.4) == "1:02:05"
    assert units.hms(90061) == "25:01:01"
    assert units.format_value("TotalJobTime", 59.6) == "0:01:00"


def test_sizes_read_in_byte_units_and_shares_in_percent() -> None:
    assert units.format_value("PeakValueRss", 2048) == "2.0 GB"
    assert units.format_value("readTotalMB", 0.5) == "500.0 kB"
    assert units.format_value("failure_rate", 0.1234) == "12.3%"
    assert units.format_value("readPercentageOps", 42.0) == "42.0%"
    assert units.format_value("jobs", 12345) == "12,345"
    assert units.format_value("PeakValueRss", None) == "–"


def test_every_metric_of_the_rule_table_is_offered_with_its_unit() -> None:
    offered = {m["id"]: m for m in units.measures()}
    from fwjr.metrics import ALL_METRICS

    for metric in ALL_METRICS:
        assert offered[metric.name]["unit"] == metric.unit
    assert offered["PeakValueRss"]["stats"] == "avg"
    assert offered["TotalJobCPU"]["stats"] == "sum,avg"


def test_a_view_survives_the_round_trip_through_its_url() -> None:
    view = View(filters={"site": "~^T2_", "exit_code": "8021"}, tf="custom", start="2026-11-01T00:00:00Z",
                end="2026-11-02T00:00:00Z", metric="PeakValueRss", stat="avg", x="time", by="jobtype", page=2)
    assert parse_view(params_of(view_search(view))) == view


def test_drill_down_adds_a_filter_and_returns_to_the_first_page() -> None:
    view = View(filters={"site": "T2_CH_CERN"}, page=3).with_filters(exit_code="8021")
    assert view.filters == {"site": "T2_CH_CERN", "exit_code": "8021"}
    assert view.page == 0
    assert View(filters={"site": "x"}).with_filters(site="").filters == {}


def test_filter_texts_become_exact_values_or_regular_expressions() -> None:
    assert query_filters({"site": "~^T2_", "exit_code": "8021", "workflow": "a'b"}) == {
        "site": {"regex": "^T2_"}, "exit_code": 8021, "workflow": "a'b"}
    with pytest.raises(ValueError, match="exit_code='abc'"):
        query_filters({"exit_code": "abc"})
    with pytest.raises(ValueError, match="unknown filter 'color'"):
        query_filters({"color": "red"})


def test_search_with_changes_some_parameters_and_drops_empty_ones() -> None:
    assert params_of(search_with("?a=1&b=2", b="", c=3)) == {"a": "1", "c": "3"}


def test_presets_are_utc_calendar_ranges() -> None:
    midnight = NOW - 13 * 3600 - 7
    assert timeframe.preset_range("today", NOW) == (midnight, NOW)
    assert timeframe.preset_range("yesterday", NOW) == (midnight - 86400, midnight)
    assert timeframe.preset_range("thismonth", NOW) == (1793491200, NOW)  # 2026-11-01
    assert timeframe.preset_range("lastmonth", NOW) == (1790812800, 1793491200)  # October 2026
    assert timeframe.preset_range("1h", NOW) == (NOW - 3600, NOW)
    with pytest.raises(ValueError, match="unknown timeframe 'fortnight'"):
        timeframe.preset_range("fortnight", NOW)


def test_explicit_times_win_over_presets_and_take_epoch_or_iso() -> None:
    assert timeframe.resolve("today", "1793491200", "2026-11-02T00:00:00Z", NOW) == (1793491200, 1793577600)
    with pytest.raises(ValueError, match="from='yesterday-ish'"):
        timeframe.resolve(None, "yesterday-ish", "1", NOW)
    with pytest.raises(ValueError, match="needs both from and to"):
        timeframe.resolve("custom", "", "", NOW)


def test_charts_use_the_finest_stored_precision_that_fits_the_point_budget() -> None:
    assert timeframe.display_precision(NOW - 3600, NOW, NOW, LADDER) == "minute"
    assert timeframe.display_precision(NOW - 86400, NOW, NOW, LADDER) == "minute"
    assert timeframe.display_precision(NOW - 7 * 86400, NOW, NOW, LADDER) == "hour"
    assert timeframe.display_precision(NOW - 60 * 86400, NOW, NOW, LADDER) == "day"
    assert timeframe.display_precision(NOW - 800 * 86400, NOW, NOW, LADDER) == "month"


def _pie_grid_as_go_figure(cells, rows, columns, split, row_order, column_order):
    """The error view's pie grid as it was built with plotly's graph objects (before the plain dict)."""
    import math

    import plotly.graph_objects as go

    from dashboard.figures import label

    totals, slices = {}, {}
    for cell in cells:
        key = (cell[rows], cell[columns])
        totals[key] = totals.get(key, 0) + cell["count"]
        slices.setdefault(key, []).append(cell)
    largest = max(totals.values(), default=1)
    n_rows, n_cols = max(len(row_order), 1), max(len(column_order), 1)
    figure = go.Figure()
    for i, row_value in enumerate(row_order):
        for j, column_value in enumerate(column_order):
            key = (row_value, column_value)
            if key not in slices:
                continue
            scale = 0.15 + 0.85 * math.sqrt(totals[key] / largest)
            cx, cy = (j + 0.5) / n_cols, 1 - (i + 0.5) / n_rows
            half_w, half_h = scale * 0.45 / n_cols, scale * 0.45 / n_rows
            parts = slices[key]
            figure.add_trace(go.Pie(
                labels=[label(p[split]) for p in parts], values=[p["count"] for p in parts],
                customdata=[[row_value, column_value, p[split]] for p in parts],
                domain=dict(x=[cx - half_w, cx + half_w], y=[cy - half_h, cy + half_h]), textinfo="none", sort=False,
                name=f"{label(row_value)} × {label(column_value)}",
                hovertemplate=(f"{rows}: {label(row_value)}<br>{columns}: {label(column_value)}<br>"
                               f"{split}: %{{label}}<br>%{{value}} errors of {totals[key]}<extra></extra>"),
            ))
    for i, row_value in enumerate(row_order):
        figure.add_annotation(text=label(row_value), x=0, y=1 - (i + 0.5) / n_rows, xref="paper", yref="paper", xanchor="right", showarrow=False, font=dict(size=11))
    for j, column_value in enumerate(column_order):
        figure.add_annotation(text=label(column_value), x=(j + 0.5) / n_cols, y=1.0, xref="paper", yref="paper", yanchor="bottom", textangle=-30, showarrow=False, font=dict(size=11))
    figure.update_layout(margin=dict(l=300, r=20, t=110, b=20), height=max(420, 70 * n_rows + 140), showlegend=True, legend=dict(title=split))
    return figure


def test_the_error_views_pie_grid_is_the_figure_plotly_would_build() -> None:
    import plotly.graph_objects as go

    from dashboard.figures import pie_grid

    row_order = ["wf-<b>1</b>", "x" * 60, ""]
    column_order = ["T2_CH_CERN", "T1_US_FNAL"]
    cells = [
        {"workflow": w, "site": s, "exit_code": code, "count": 1 + (n * 7) % 13}
        for n, (w, s, code) in enumerate((w, s, c) for w in row_order for s in column_order for c in (8021, 50660, 0))
        if (w, s) != ("", "T1_US_FNAL")
    ]
    fast = pie_grid(cells, "workflow", "site", "exit_code", row_order, column_order)
    assert fast == _pie_grid_as_go_figure(cells, "workflow", "site", "exit_code", row_order, column_order).to_plotly_json()
    assert go.Figure(fast).to_plotly_json() == fast
    empty = pie_grid([], "workflow", "site", "exit_code", [], [])
    assert empty == _pie_grid_as_go_figure([], "workflow", "site", "exit_code", [], []).to_plotly_json()


HOSTILE_NAMES = ('<b>bold</b>', '%{x}<img src=x onerror=alert(1)>', '<a href="javascript:alert(1)">x</a> & more')


def _texts(value: object) -> list[str]:
    """Every string in a figure's JSON."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def test_fwjr_names_reach_every_figure_kind_as_plotly_text_not_markup() -> None:
    """Names from FWJRs in labels, legends, hover templates and annotations are entity-escaped
    (plotly shows &lt; as <), so none of them opens a tag or a %{...} template; the raw names
    stay in customdata, where a click reads them."""
    from dashboard import figures

    rows = [{"bucket": 60 * i, "value": 1.0 + i, "count": 1 + i, "workflow": name, "site": name, "exit_code": name}
            for i, name in enumerate(HOSTILE_NAMES)]
    names = list(HOSTILE_NAMES)
    drawn = [
        figures.time_series(rows, "jobs", "sum", split="workflow").to_plotly_json(),
        figures.pie(rows, "workflow", "jobs", "sum").to_plotly_json(),
        figures.bars(rows, "workflow", "site", "jobs", "sum", names).to_plotly_json(),
        figures.heatmap(rows, "workflow", "site", "jobs", "sum", names, names).to_plotly_json(),
        figures.pie_grid(rows, "workflow", "site", "exit_code", names, names),
    ]
    for figure in drawn:
        texts = _texts({"data": [{k: v for k, v in trace.items() if k != "customdata"} for trace in figure["data"]],
                        "layout": {k: v for k, v in figure["layout"].items() if k != "template"}})
        for name in HOSTILE_NAMES:
            assert not any(name in text for text in texts), (name, figure["data"][0]["type"])
        shown = " ".join(texts)
        assert "&lt;b&gt;bold&lt;/b&gt;" in shown and "&#37;{x}&lt;img" in shown
        assert {name for trace in figure["data"] for point in trace["customdata"] for name in _texts(point)} >= set(HOSTILE_NAMES)
    assert figures.plot_text("50% & <3") == "50&#37; &amp; &lt;3"
