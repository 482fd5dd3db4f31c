"""Outage windows drawn as shaded bands on failure-rate charts (the overview's and the outages page's).

Bands are layout shapes under the traces, coloured by the worst state of the outage, so a
failure spike and the outage that explains it are seen together.
"""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.figures import plot_text, utc_text

STATE_COLOURS: dict[str, str] = {"down": "rgba(214, 40, 40, 0.16)", "degraded": "rgba(247, 127, 0, 0.14)"}
STATE_LINES: dict[str, str] = {"down": "#d62828", "degraded": "#f77f00", "up": "#2a9d8f", "maintenance": "#577590"}


def add_outage_bands(figure: go.Figure, outages: list[dict], end: int, row: int | None = None) -> go.Figure:
    """Shade each outage's [start, end) (open ones up to `end`) with its service named at the top."""
    for outage in outages:
        stop = outage["end"] if outage["end"] is not None else end
        options = {"row": row, "col": 1} if row is not None else {}
        figure.add_vrect(
            x0=utc_text(outage["start"]),
            x1=utc_text(stop),
            fillcolor=STATE_COLOURS.get(outage["state"], STATE_COLOURS["degraded"]),
            line_width=0,
            layer="below",
            annotation_text=plot_text(f"{outage['service']} {outage['state']}"),
            annotation_position="top left",
            annotation_font_size=10,
            **options,
        )
    return figure
