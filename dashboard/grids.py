"""The board's tables: dash-ag-grid, sortable, filterable, resizable, with a CSV export of what is shown.

Every cell is text: AG Grid renders a value as a text node unless a column names a cell
renderer, and no column here does (nor is `dangerously_allow_code` set), so FWJR and user text
stays text. Links out of a table are done by clicking a row (the pages' `cellClicked`
callbacks), never by HTML in a cell.

A table is `grid(name, columns, rows)`: an outer Div with the id `name` (what tests and CSS
find), the AgGrid inside it with the id {"type": GRID, "name": name}, and a "CSV" button with
{"type": EXPORT, "name": name}; one clientside callback, matched on `name`, asks the grid to
export. AG Grid's export writes the rows as they are filtered and sorted, every page of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
from dash import MATCH, Input, Output, clientside_callback, html

from dashboard import components

GRID = "board-grid"
EXPORT = "board-grid-csv"
# Small tables lay out every row (their text is all in the page); longer ones are paged.
PAGE_SIZE = 25
Column = tuple[str, str] | dict[str, Any]


def grid_id(name: str) -> dict[str, str]:
    """The AgGrid's id inside the table `name` (for callbacks reading or writing it)."""
    return {"type": GRID, "name": name}


def column_defs(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """Column definitions from (field, header) pairs or ready dicts; numbers filter as numbers."""
    defs = []
    for column in columns:
        if isinstance(column, dict):
            defs.append(column)
        else:
            field, header = column
            defs.append({"field": field, "headerName": header})
    return defs


def grid(name: str, columns: Sequence[Column], rows: list[dict[str, Any]], *, row_id: str | None = None,
         paged: bool = False, export: str | None = None, empty: str | None = "Nothing in this range.") -> html.Div:
    """The table `name` with its CSV button; `row_id` names the field that identifies a row
    (so a click says which row, whatever the sorting); `export` is the CSV file's name; `empty`
    is said above the table when it starts with no rows (AG Grid's own overlay takes HTML; None
    for a table a callback fills)."""
    options: dict[str, Any] = {
        "domLayout": "autoHeight",
        "suppressColumnVirtualisation": True,
        "enableCellTextSelection": True,
        "tooltipShowDelay": 300,
    }
    if paged:
        options.update({"pagination": True, "paginationPageSize": PAGE_SIZE, "paginationPageSizeSelector": False})
    else:
        options["suppressRowVirtualisation"] = True
    table = dag.AgGrid(
        id=grid_id(name),
        columnDefs=column_defs(columns),
        rowData=rows,
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True, "minWidth": 90,
                       "wrapText": True, "autoHeight": True},
        dashGridOptions=options,
        columnSize="responsiveSizeToFit",
        csvExportParams={"fileName": export or f"{name}.csv"},
        getRowId=f"params.data.{row_id}" if row_id else None,
        className="board-grid",
        style={"width": "100%"},
    )
    button = html.Button("CSV", id={"type": EXPORT, "name": name}, n_clicks=0, className="button grid-export",
                         title="download the rows shown (filtered and sorted) as CSV")
    note = components.notice(empty) if empty and not rows else None
    return html.Div([html.Div([note, button], className="grid-tools"), table], id=name, className="grid-box")


def number_column(field: str, header: str, **extra: Any) -> dict[str, Any]:
    """A numeric column: filtered as numbers, right-aligned."""
    return {"field": field, "headerName": header, "filter": "agNumberColumnFilter", "type": "numericColumn", **extra}


clientside_callback(
    "function (clicks) { return clicks > 0; }",
    Output({"type": GRID, "name": MATCH}, "exportDataAsCsv"),
    Input({"type": EXPORT, "name": MATCH}, "n_clicks"),
    prevent_initial_call=True,
)
