"""Plotly figures chosen by the shape of the data, each point carrying its raw key values
in `customdata`, so a click can set exactly that filter (drill-down).

Shapes: a time series for time; a pie for a few values of one key; bars (stacked when the
measure adds up) for a ranking; a heatmap when the second key has many values; a grid of
pies for the error view. Only trace types of plotly.js's cartesian bundle (dashboard/plotly_bundle.py):
lines stay SVG at any length (a path per trace), markers are dropped above 200 points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from dashboard import units

PIE_MAX_SLICES = 6
STACK_MAX_SERIES = 8
LABEL_CHARS = 42
_MARGIN = dict(l=60, r=20, t=30, b=60)


# plotly.js reads trace, axis and annotation text as its own markup (<b>, <br>, <a href>) and a
# hover template's %{...} as a variable. Text from FWJRs must read as given, so the characters
# that start either are written as HTML entities, which plotly shows as those characters.
_PLOTLY_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "%": "&#37;"})


def plot_text(value: Any) -> str:
    """Any text for a figure (names, labels, hover text, annotations), shown by plotly as given."""
    return str(value).translate(_PLOTLY_ENTITIES)


def label(value: Any) -> str:
    """A category label that fits on an axis, as plotly text; the full value stays in customdata."""
    text = "(none)" if value in ("", None) else str(value)
    return plot_text(text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…")


def empty_figure(message: str) -> go.Figure:
    """A figure that says why it is empty instead of showing blank axes."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, font=dict(size=16, color="#666"), x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False), margin=_MARGIN, height=320)
    return figure


def _value_axis(figure: go.Figure, measure: str, stat: str) -> None:
    suffix = units.axis_suffix(measure)
    figure.update_layout(yaxis=dict(title=units.title_of(measure, stat), ticksuffix=f" {suffix}" if suffix and suffix != "%" else suffix))


def time_series(rows: Sequence[dict], measure: str, stat: str, split: str | None = None, precision: str = "hour") -> go.Figure:
    """One line per value of `split` (or one line), x = bucket start (UTC)."""
    series: dict[Any, list[dict]] = {}
    for row in rows:
        series.setdefault(row.get(split) if split else None, []).append(row)
    figure = go.Figure()
    for key, items in series.items():
        figure.add_trace(
            go.Scatter(
                x=[utc_text(r["bucket"]) for r in items],
                y=[units.axis_values(measure, r["value"]) for r in items],
                customdata=[[r["bucket"], "" if key is None else key] for r in items],
                name=label(key) if split else units.title_of(measure, stat),
                mode="lines+markers" if len(items) < 200 else "lines",
                hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(margin=_MARGIN, height=380, legend=dict(orientation="h", y=-0.25), xaxis=dict(title=f"time (UTC, per {precision})"))
    _value_axis(figure, measure, stat)
    return figure


def pie(rows: Sequence[dict], key: str, measure: str, stat: str) -> go.Figure:
    """Shares of an additive measure over a few values of one key."""
    figure = go.Figure(
        go.Pie(
            labels=[label(r[key]) for r in rows],
            values=[r["value"] for r in rows],
            customdata=[[r[key], ""] for r in rows],
            hovertemplate="%{label}: %{value} (%{percent})<extra></extra>",
            sort=False,
        )
    )
    figure.update_layout(margin=_MARGIN, height=380, title=dict(text=f"{units.title_of(measure, stat)} by {key}", font=dict(size=14)))
    return figure


def bars(rows: Sequence[dict], x: str, by: str | None, measure: str, stat: str, order: Sequence[Any]) -> go.Figure:
    """Bars per value of `x` in ranking order, one colour per value of `by`; stacked when it adds up."""
    figure = go.Figure()
    stacked = stat == "sum" and units.unit_of(measure) != "ratio"
    groups: dict[Any, dict[Any, float]] = {}
    for row in rows:
        groups.setdefault(row.get(by) if by else None, {})[row[x]] = row["value"]
    names = [label(v) for v in order]
    for key, values in groups.items():
        figure.add_trace(
            go.Bar(
                x=names,
                y=[units.axis_values(measure, values.get(v)) for v in order],
                customdata=[[v, "" if key is None else key] for v in order],
                name=label(key) if by else units.title_of(measure, stat),
                hovertemplate=f"{x}: %{{x}}<br>{by + ': ' + label(key) + '<br>' if by else ''}%{{y}}<extra></extra>",
            )
        )
    figure.update_layout(
        barmode="stack" if stacked else "group",
        margin=_MARGIN,
        height=420,
        xaxis=dict(type="category", title=x),
        showlegend=bool(by),
        legend=dict(orientation="h", y=-0.35, title=by or ""),
    )
    _value_axis(figure, measure, stat)
    return figure


def heatmap(rows: Sequence[dict], x: str, y: str, measure: str, stat: str, x_order: Sequence[Any], y_order: Sequence[Any]) -> go.Figure:
    """A matrix of `x` by `y` for a second key with too many values to stack."""
    cells = {(r[x], r[y]): r["value"] for r in rows}
    z = [[units.axis_values(measure, cells.get((xv, yv))) for xv in x_order] for yv in y_order]
    customdata = [[[xv, yv] for xv in x_order] for yv in y_order]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[label(v) for v in x_order],
            y=[label(v) for v in y_order],
            customdata=customdata,
            colorscale="Viridis",
            hovertemplate=f"{x}: %{{x}}<br>{y}: %{{y}}<br>%{{z}}<extra></extra>",
            hoverongaps=False,
        )
    )
    figure.update_layout(margin=dict(l=160, r=20, t=30, b=120), height=max(360, 22 * len(y_order) + 160), xaxis=dict(type="category", title=x), yaxis=dict(type="category", title=y))
    return figure


def pie_grid(cells: Sequence[dict], rows: str, columns: str, split: str, row_order: Sequence[Any], column_order: Sequence[Any]) -> dict:
    """The global error view: one pie per (row, column) split by the third key, sized by its count.

    Built as the plain figure dict plotly.js reads (the default template included, as go.Figure
    would serialize it): validating up to 144 go.Pie objects cost far more than building the dict
    (docs/board.md has the figures). tests/unit/test_dashboard_units.py checks it equals the
    go.Figure of the same traces.
    """
    totals: dict[tuple, int] = {}
    slices: dict[tuple, list[dict]] = {}
    for cell in cells:
        key = (cell[rows], cell[columns])
        totals[key] = totals.get(key, 0) + cell["count"]
        slices.setdefault(key, []).append(cell)
    largest = max(totals.values(), default=1)
    n_rows, n_cols = max(len(row_order), 1), max(len(column_order), 1)
    data: list[dict] = []
    for i, row_value in enumerate(row_order):
        for j, column_value in enumerate(column_order):
            key = (row_value, column_value)
            if key not in slices:
                continue
            scale = 0.15 + 0.85 * math.sqrt(totals[key] / largest)
            cx, cy = (j + 0.5) / n_cols, 1 - (i + 0.5) / n_rows
            half_w, half_h = scale * 0.45 / n_cols, scale * 0.45 / n_rows
            parts = slices[key]
            data.append(
                {
                    "customdata": [[row_value, column_value, p[split]] for p in parts],
                    "domain": {"x": [cx - half_w, cx + half_w], "y": [cy - half_h, cy + half_h]},
                    "hovertemplate": (
                        f"{rows}: {label(row_value)}<br>{columns}: {label(column_value)}<br>"
                        f"{split}: %{{label}}<br>%{{value}} errors of {totals[key]}<extra></extra>"
                    ),
                    "labels": [label(p[split]) for p in parts],
                    "name": f"{label(row_value)} × {label(column_value)}",
                    "sort": False,
                    "textinfo": "none",
                    "values": [p["count"] for p in parts],
                    "type": "pie",
                }
            )
    annotations = [
        {"font": {"size": 11}, "showarrow": False, "text": label(row_value), "x": 0, "xanchor": "right", "xref": "paper", "y": 1 - (i + 0.5) / n_rows, "yref": "paper"}
        for i, row_value in enumerate(row_order)
    ] + [
        {"font": {"size": 11}, "showarrow": False, "text": label(column_value), "textangle": -30, "x": (j + 0.5) / n_cols, "xref": "paper", "y": 1.0, "yanchor": "bottom", "yref": "paper"}
        for j, column_value in enumerate(column_order)
    ]
    layout = {
        **({"annotations": annotations} if annotations else {}),
        "height": max(420, 70 * n_rows + 140),
        "legend": {"title": {"text": split}},
        "margin": {"b": 20, "l": 300, "r": 20, "t": 110},
        "showlegend": True,
        "template": _template(),
    }
    return {"data": data, "layout": layout}


_TEMPLATE: dict | None = None


def _template() -> dict:
    """The default plotly template as go.Figure serializes it (built once)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = go.Figure().to_plotly_json()["layout"]["template"]
    return _TEMPLATE


def warm_up() -> None:
    """Build and serialize one figure of each kind the board draws, once per process at start-up.

    plotly imports a trace type's validators, and its JSON encoder, on first use, which makes the
    first chart callback of a fresh server about twice as slow (docs/board.md): without this, the
    first operator after a restart would wait for it.
    """
    row = {"bucket": 0, "value": 1.0, "site": "s", "exit_code": 0}
    for figure in (
        time_series([row], "jobs", "sum"),
        bars([row], "site", None, "jobs", "sum", ["s"]),
        pie([row], "site", "jobs", "sum"),
        heatmap([row], "site", "exit_code", "jobs", "sum", ["s"], [0]),
        empty_figure(""),
    ):
        pio.to_json(figure)


def utc_text(epoch: int) -> str:
    """An epoch second as the UTC text plotly reads as a date."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
