"""Every parameter of every /api/v1 route is checked before the store sees it.

The routes come from the board's Flask url_map and what each takes from dashboard/params.py,
so a new endpoint is covered as soon as it is routed (and fails here until it declares its
parameters there). For each route: valid values answer 2xx; each parameter given a malformed
value (`~(`, `abc` for a time, `year` for a precision, `-1` for a page, 5,000 characters, NUL,
invalid UTF-8, ...), given twice, or misspelt answers 400 {"error": ...} naming it, never 500.
A real embedded store seeded like the other API tests (tests/fixtures/browser.py), served by
waitress; no mocks.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dashboard import params
from dashboard.app import build_app
from dashboard.state import NUMERIC_KEYS
from fwjr.bucket import iso
from fwjr.ops import accounts, tokens
from fwjr.ops.database import session
from fwjr.ops.roles import SCOPES
from tests.fixtures.browser import board, seeded  # noqa: F401  (fixtures)

LONG = "x" * 5000
# Malformed for any parameter: too long, control characters, invalid UTF-8 (bytes are sent raw).
EVERYWHERE: tuple[str | bytes, ...] = (LONG, "\x00", "a\x00b", "\x1b[31m", "a\x7fb", b"\xff\xfe")
BAD: dict[type, tuple[str | bytes, ...]] = {
    params.Text: (),
    params.Choice: ("year", "bogus", "HOUR ", "0x"),
    params.Int: ("-1", "abc", "1.5", "1e3", "9" * 40, "0x10", "１"),
    params.Number: ("abc", "nan", "inf", "-1", "0", "1e12"),
    params.Time: ("abc", "1e400", "nan", "-1", "99999999999", "2026-13-45T00:00:00Z", "last tuesday"),
    params.Codes: ("abc", "8021,abc", "99999999999", "1.5", ",".join(["1"] * 201)),
    params.Filter: ("~(", "~a{1001}", "~\\", "~[z-a]", "~(?=x)"),
}
BAD_NUMBER_FILTER = ("abc", "99999999999", "1.5", "-99999999999")
ROUTES = sorted(
    ((rule.rule, rule.endpoint, "GET" if "GET" in rule.methods else "POST")
     for rule in build_app().server.url_map.iter_rules() if rule.rule.startswith(params.PREFIX)),
)


def route_id(route: tuple[str, str, str]) -> str:
    return f"{route[2]} {route[0]}"


def window(seeded: tuple) -> tuple[int, int]:
    now = seeded[3]
    return now - 4 * 3600, now + 60


@pytest.fixture(scope="module")
def api(board: str, seeded: tuple) -> Iterator["Api"]:  # noqa: F811
    settings = seeded[0]
    with session(settings.ops_url) as opened:
        account = accounts.create(opened, "params-admin", password="a long enough password", role="admin")
        _, token = tokens.create(opened, account, list(SCOPES))
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {token}"
    yield Api(board, client, seeded)
    client.close()


class Api:
    """The served board, a token with every scope, and what each route needs to answer 2xx."""

    def __init__(self, base: str, client: requests.Session, seeded: tuple) -> None:
        self.base, self.client, self.seeded = base, client, seeded

    def send(self, route: tuple[str, str, str], query: list[tuple[str, Any]], path: dict[str, Any] | None = None) -> requests.Response:
        rule, endpoint, method = route
        values = {**self.path_values(endpoint), **(path or {})}
        url = self.base + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: urllib.parse.quote(str(values[m.group(1)]), safe=""), rule)
        url += "?" + urllib.parse.urlencode(query)
        if method == "GET":
            return self.client.get(url, timeout=60)
        return self.client.post(url, timeout=60, **self.body(endpoint))

    def path_values(self, endpoint: str) -> dict[str, Any]:
        values = {name: kind.example for name, kind in params.endpoints()[endpoint].path.items()}
        if endpoint == "announcements_api.withdraw":
            values["announcement_id"] = self.announcement()
        return values

    def announcement(self) -> int:
        posted = self.client.post(self.base + "/api/v1/announcements", json={"message": "params test", "severity": "info", "hours": 1}, timeout=60)
        assert posted.status_code == 201, posted.text
        return int(posted.json()["id"])

    def body(self, endpoint: str) -> dict[str, Any]:
        """A valid request body of each POST endpoint: one without an entry here fails the test."""
        store = self.seeded[1]
        if endpoint == "replay_api.load":  # empty rows of the tables' own columns, into 1970 (no seeded rows there)
            from fwjr.store.handover import encode_rows

            aggregates = store.client.query_arrow("SELECT * EXCEPT (batch) FROM agg WHERE 0")
            errors = store.client.query_arrow("SELECT * EXCEPT (batch) FROM errors WHERE 0")
            return {"data": encode_rows(aggregates, errors)}
        bodies: dict[str, Any] = {
            "actions_api.submit": {"workflows": ["wf_params"], "action": "more-memory", "parameters": {"amount": 4000},
                                   "reasons": [{"short": "params test"}]},
            "actions_api.report": {"workflows": ["wf_params"]},
            "announcements_api.post": {"message": "params test", "severity": "info", "hours": 1},
            "announcements_api.withdraw": None,
        }
        assert endpoint in bodies, f"{endpoint}: add a valid request body to Api.body in {__file__}"
        return {} if bodies[endpoint] is None else {"json": bodies[endpoint]}

    def valid(self, endpoint: str) -> dict[str, str]:
        """A valid value of every query parameter, together (the examples are chosen to combine)."""
        start, end = window(self.seeded)
        out = {name: kind.example for name, kind in params.endpoints()[endpoint].kinds().items()}
        if "from" in out:
            out.update({"from": str(start), "to": iso(end)})  # tf stays: from and to win over it
        return out

    def base_query(self, endpoint: str) -> dict[str, str]:
        """The required parameters at valid values: what each single-parameter request adds to."""
        valid = self.valid(endpoint)
        return {name: valid[name] for name in params.endpoints()[endpoint].required}


def names(error: str, name: str) -> bool:
    return f"{name}=" in error or f"{name} is" in error


def refusal(response: requests.Response, name: str) -> str | None:
    """None when the answer is a 400 JSON error naming `name`; else what is wrong with it."""
    if response.status_code != 400:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    try:
        error = response.json()["error"]
    except (ValueError, KeyError):
        return f"400 without a JSON error: {response.text[:300]}"
    return None if names(error, name) else f"400 not naming {name}: {error[:300]}"


def test_every_api_route_declares_its_parameters() -> None:
    assert ROUTES, "no /api/v1 routes in the url_map"
    missing = [route_id(r) for r in ROUTES if r[1] not in params.endpoints()]
    assert not missing, f"declare what these take in dashboard/params.py (_endpoints): {missing}"
    for rule, endpoint, _ in ROUTES:
        declared = set(params.endpoints()[endpoint].path)
        routed = set(re.findall(r"<(?:\w+:)?(\w+)>", rule))
        assert declared == routed, f"{rule}: path variables {routed}, declared {declared}"


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_valid_values_answer_2xx(api: Api, route: tuple[str, str, str]) -> None:
    _, endpoint, _ = route
    spec = params.endpoints()[endpoint]
    valid = api.valid(endpoint)
    base = api.base_query(endpoint)
    failures = []
    tries: list[dict[str, str]] = [base, valid]
    for name, kind in spec.kinds().items():
        if name in ("from", "to"):
            tries.append({**base, "from": valid["from"], "to": valid["to"]})
        elif isinstance(kind, params.Filter):
            tries.append({**base, name: kind.example})
            if name not in NUMERIC_KEYS:
                tries += [{**base, name: "~^T[12]_|x$"}, {**base, name: "' OR 1=1 --"}]  # data, never SQL
            elif NUMERIC_KEYS[name][2]:
                tries.append({**base, name: "~^8"})
        else:
            tries.append({**base, name: valid[name]})
    if "tf" in spec.kinds():
        tries += [{**base, "tf": preset} for preset in params.PRESET_NAMES if preset != "custom"]
    for query in tries:
        response = api.send(route, list(query.items()))
        if not 200 <= response.status_code < 300:
            failures.append(f"{query}: HTTP {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_malformed_values_answer_400_naming_the_parameter(api: Api, route: tuple[str, str, str]) -> None:
    _, endpoint, _ = route
    spec = params.endpoints()[endpoint]
    valid = api.valid(endpoint)
    base = api.base_query(endpoint)
    failures = []

    def expect(query: list[tuple[str, Any]], name: str, path: dict[str, Any] | None = None) -> None:
        problem = refusal(api.send(route, query, path), name)
        if problem:
            failures.append(f"{query!r:.200} {path or ''}: {problem}")

    for name, kind in spec.kinds().items():
        others = [(k, v) for k, v in base.items() if k != name]
        if name in ("from", "to"):
            partner = ("to", valid["to"]) if name == "from" else ("from", valid["from"])
            others.append(partner)
        bad = BAD[type(kind)] + EVERYWHERE
        if name in NUMERIC_KEYS:
            bad += BAD_NUMBER_FILTER + (() if NUMERIC_KEYS[name][2] else ("~^1",))
        for value in bad:
            expect(others + [(name, value)], name)
        expect(others + [(name, valid[name]), (name, valid[name])], name)  # given twice
    expect(list(base.items()) + [("bogus_parameter", "1")], "bogus_parameter")
    for name in spec.kinds():
        typo = name[:-1] + ("x" if name[-1] != "x" else "y") + "x"
        if typo not in spec.kinds():
            expect(list(base.items()) + [(typo, valid[name])], typo)
    for name in spec.required:
        expect([(k, v) for k, v in base.items() if k != name], name)
    if "from" in spec.kinds():
        start, end = window(api.seeded)
        expect(list(base.items()) + [("from", str(end)), ("to", str(start))], "from")  # from >= to
        expect(list(base.items()) + [("from", str(start)), ("to", str(start))], "from")
        expect(list(base.items()) + [("from", str(start))], "from")  # without to
        expect(list(base.items()) + [("to", str(end))], "to")  # without from
        expect(list(base.items()) + [("tf", "custom")], "tf")
    for name, kind in spec.path.items():
        if isinstance(kind, params.Converted):
            continue  # Flask's converter refuses these (404) before any code runs
        for value in (LONG, "\x00", "a\x00b", "\x1b[31m"):
            expect(list(base.items()), name, {name: value})
    assert not failures, f"{len(failures)} malformed requests not refused as they should be:\n" + "\n".join(failures[:40])


@pytest.mark.parametrize(("path", "query", "named"), [
    ("/api/v1/aggregates", {"site": "~("}, "missing ): ("),
    ("/api/v1/aggregates", {"precision": "year"}, "precision='year': expected one of minute"),
    ("/api/v1/aggregates", {"from": "abc", "to": "1"}, "from='abc'"),
    ("/api/v1/performance", {"metric": "PeakValueRss", "stat": "sum"}, "stat='sum' does not apply"),
    ("/api/v1/performance", {"x": "site", "by": "site"}, "by='site'"),
    ("/api/v1/performance", {"page": "-1"}, "page=-1: expected 0.."),
    ("/api/v1/errors", {"rows": "site", "columns": "site"}, "must be different keys"),
    ("/api/v1/totals", {"stie": "T2_CH_CERN"}, "did you mean site?"),
    ("/api/v1/totals", {"exit_code": "99999999999"}, "exit_code='99999999999'"),
    ("/api/v1/totals", {"tf": "fortnight"}, "tf='fortnight'"),
    ("/api/v1/suggestions", {}, "key is required"),
    ("/api/v1/alerts", {"hours": "nan"}, "hours='nan'"),
])
def test_messages_say_what_is_wrong(api: Api, path: str, query: dict, named: str) -> None:
    response = api.client.get(api.base + path, params=query, timeout=60)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]


def test_a_valid_regex_in_the_store_dialect_still_filters(api: Api) -> None:
    start, end = window(api.seeded)
    response = api.client.get(api.base + "/api/v1/aggregates", params={"from": start, "to": end, "site": r"~^T[12]_\w+"}, timeout=60)
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert rows and all(re.match(r"T[12]_", row["site"]) for row in rows)


def test_a_store_failure_is_a_short_500_with_the_detail_in_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    store = api.seeded[1]
    start, end = window(api.seeded)
    caplog.set_level(logging.ERROR, logger="fwjr.board.api")
    store.command("RENAME TABLE agg TO agg_hidden_by_test_api_params")
    try:
        response = api.client.get(api.base + "/api/v1/totals", params={"from": start, "to": end}, timeout=60)
    finally:
        store.command("RENAME TABLE agg_hidden_by_test_api_params TO agg")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error.startswith("internal error (ref ") and len(error) < 200
    for leak in ("DB::Exception", "Code:", "http", "agg", "SELECT", "UNKNOWN_TABLE"):
        assert leak not in error
    reference = error.split("(ref ", 1)[1].split(")", 1)[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and "agg" in logged[0].getMessage()
    assert api.client.get(api.base + "/api/v1/totals", params={"from": start, "to": end}, timeout=60).status_code == 200


def test_the_board_pages_show_a_bad_regex_instead_of_failing_in_the_store(api: Api) -> None:
    """The pages read the same filters (dashboard.state): a bad ~regex is named with re2's message, no engine text."""
    from dashboard.pages import errors, explorer, failed

    shown = [
        str(explorer.draw("?site=~(&metric=jobs&x=site")[-1]),
        str(errors.draw("?site=~(")[-1]),
        str(failed._load("?site=~(")[-1]),
        str(explorer.draw("?from=1e400&to=1&metric=jobs")[-1]),
    ]
    for text in shown[:3]:
        assert "missing ): (" in text and "DB::Exception" not in text
    assert "from='1e400'" in shown[3]
