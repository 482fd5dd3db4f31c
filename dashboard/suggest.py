"""Filter suggestions, loaded for one key when its box is clicked.

Loading every key's values whenever a view is drawn would queue ten scans in front of the
chart's own queries (the store serialises them); on demand, one key costs one query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dash import Input, Output, State, callback, html

from dashboard import components, context
from fwjr import exit_codes
from fwjr.store import reads

LIMIT = 30


def options(key: str, values: list[Any]) -> list[html.Option]:
    """Datalist options; exit codes carry their description as the label."""
    if key == "exit_code":
        return [html.Option(value=str(v), label=f"{v}: {exit_codes.describe(v)}") for v in values]
    return [html.Option(value=str(v)) for v in values]


def register(prefix: str, keys: Sequence[str], view_id: str, window: Callable[[str], tuple[int, int]]) -> None:
    """For each key: clicking `<prefix>-<key>-box` fills `<prefix>-<key>-suggestions` with the
    values seen in the range `window(view search string)` returns, most jobs first."""
    for key in keys:
        _register_one(prefix, key, view_id, window)


def _register_one(prefix: str, key: str, view_id: str, window: Callable[[str], tuple[int, int]]) -> None:
    @callback(
        Output(f"{prefix}-{key}-suggestions", "children"),
        Input(f"{prefix}-{key}-box", "n_clicks"),
        State(view_id, "data"),
        prevent_initial_call=True,
    )
    def suggest(_clicks: int, search: str) -> list[html.Option]:
        try:
            start, end = window(search)
            return options(key, reads.distinct_values(context.store(), key, start, end, "", LIMIT))
        except Exception as error:  # suggestions are a convenience: log, offer none
            components.log.warning("suggestions for %s failed: %s", key, error)
            return []
