"""The board served by waitress over a real store, bound per test to a fresh operational database.

The board (Dash registries, the store) is one per process, so a module serves it once and each
test re-binds it (dashboard.server.create_app) to its own settings: a new SQLite file or
PostgreSQL database, the test's SMTP server, registration domains and proxy settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from dashboard import auth
from dashboard.server import BoardServer, create_app, serve_in_thread
from fwjr.config import Settings
from fwjr.ops import accounts, tokens
from fwjr.ops.database import session
from fwjr.store.connection import Store, connect
from fwjr.store.migrate import migrate
from tests.alert_receivers_fixtures import Mailbox

PASSWORD = "a long enough password"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class OpsBoard:
    """One test's board: its address, settings and mailbox, and helpers to make accounts and sign in."""

    url: str
    settings: Settings
    store: Store
    mailbox: Mailbox
    extra: dict[str, Any] = field(default_factory=dict)

    def rebind(self, **changes: Any) -> None:
        """Serve the same board with these settings changed (e.g. trusted_proxies)."""
        self.settings = self.settings.model_copy(update=changes)
        create_app(self.settings, self.store)

    def account(self, name: str, role: str = "viewer", *, email: str | None = None, password: str | None = PASSWORD) -> None:
        with session(self.settings.ops_url) as opened:
            accounts.create(opened, name, email=email, password=password, role=role)

    def token(self, name: str, *scopes: str) -> tuple[int, str]:
        with session(self.settings.ops_url) as opened:
            row, text = tokens.create(opened, accounts.get(opened, name), list(scopes))
            return row.id, text

    def client(self) -> requests.Session:
        return requests.Session()

    def csrf(self, client: requests.Session, path: str = "/account/login") -> str:
        """The session's CSRF token, as a form on the board hands it out."""
        page = client.get(self.url + path, timeout=30)
        found = CSRF_FIELD.search(page.text)
        assert found, f"no CSRF field on {path} ({page.status_code})"
        return found.group(1)

    def signed_in(self, name: str, password: str = PASSWORD) -> requests.Session:
        client = self.client()
        response = client.post(self.url + "/account/login", data={"name": name, "password": password, "csrf_token": self.csrf(client)},
                               allow_redirects=False, timeout=30)
        assert response.status_code == 302, response.text
        return client


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BoardServer, Store, Path]]:
    home = tmp_path_factory.mktemp("ops-board")
    store = connect(path=home / "store")
    migrate(store)
    server = serve_in_thread(Settings(home=home / "home"), store, port=0)
    yield server, store, home
    server.close()
    store.close()


@pytest.fixture
def ops_board(served: tuple[BoardServer, Store, Path], ops_url: str, mailbox: Mailbox, tmp_path: Path) -> OpsBoard:
    server, store, _ = served
    url = server.url.rstrip("/")
    settings = Settings(
        home=tmp_path / "home", ops_database_url=ops_url, board_url=url,
        registration_domains=["cern.ch"], mail_smtp_host=mailbox.host, mail_smtp_port=mailbox.port,
        proxy_identity_header="X-Remote-User", proxy_groups_header="X-Remote-Groups", proxy_group_roles={"cms-comp-ops": "operator"},
        trusted_proxies=["10.0.0.0/8"], login_rate_limit="5 per minute",
    )
    create_app(settings, store)
    auth.limiter.reset()
    return OpsBoard(url, settings, store, mailbox)
