"""The Dash application: the shell (navigation), the pages, and the JSON API on its Flask server.

Dash keeps pages and callbacks in process-wide registries, so the app is built once per
process and re-pointed at a store through dashboard.context.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import dash
from dash import Dash, dcc, html

from dashboard import (
    account_pages,
    actions_api,
    alert_banner,
    alerts_api,
    announcement_banner,
    announcements_api,
    api,
    auth,
    figures,
    ops_pages,
    replay_api,
    triage_api,
)

PAGE_MODULES = ("overview", "explorer", "errors", "workflow", "failed", "outages", "triage")
NAVIGATION = (
    ("Overview", "/"), ("Triage", "/triage"), ("Performance", "/explorer"), ("Errors", "/errors"), ("Failed jobs", "/failed"), ("Outages", "/outages"),
)
# Flask-rendered pages (dashboard/account_pages.py, dashboard/ops_pages.py): plain links, not Dash routes.
OPERATIONS = (("Actions", "/ops/actions"), ("Announcements", "/ops/announcements"), ("Account", "/account/"))


@cache
def build_app() -> Dash:
    """The board (once per process): pages registered, API attached."""
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(Path(__file__).parent / "assets"),
        suppress_callback_exceptions=True,
        title="FWJR Monitor",
        update_title=None,
    )
    for name in PAGE_MODULES:
        importlib.import_module(f"dashboard.pages.{name}")
    app.layout = shell
    api.register(app.server)
    auth.register(app.server)
    replay_api.register(app.server)
    alerts_api.register(app.server)
    actions_api.register(app.server)
    announcements_api.register(app.server)
    triage_api.register(app.server)
    app.server.register_blueprint(account_pages.account_pages)
    app.server.register_blueprint(ops_pages.ops_pages)
    figures.warm_up()
    return app


def shell() -> html.Div:
    """Header with navigation around the current page."""
    return html.Div(
        [
            html.Header(
                [
                    html.Span("FWJR Monitor", className="brand"),
                    html.Nav([dcc.Link(text, href=href, className="nav-link", id=f"nav-{href.strip('/') or 'overview'}") for text, href in NAVIGATION]),
                    html.Nav([html.A(text, href=href, className="nav-link") for text, href in OPERATIONS], className="nav-operations"),
                ],
                className="header",
            ),
            alert_banner.banner(),
            announcement_banner.banner(),
            html.Main(dash.page_container, className="main"),
        ]
    )
