"""Accounts and roles on the served board, on SQLite and PostgreSQL: who may write, CSRF, tokens,
single sign-on through a trusted proxy, registration and reset by mail, escaping."""

from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape

from fwjr.ops import accounts, tokens
from fwjr.ops.database import session
from tests.fixtures.alert_receivers import mailbox  # noqa: F401  (fixtures)
from tests.fixtures.ops_board import PASSWORD, OpsBoard, ops_board, served  # noqa: F401  (fixtures)
from tests.fixtures.postgres import ops_url, postgres_server  # noqa: F401  (fixtures)

ACTION = {"workflows": ["wf_auth"], "action": "kill", "reasons": [{"short": "stuck"}]}
JSON_WRITES = [
    ("/api/v1/actions", ACTION, "actions:write"),
    ("/api/v1/actions/report", {"workflows": ["wf_auth"]}, "actions:report"),
    ("/api/v1/announcements", {"message": "hello", "severity": "info", "hours": 1}, "announcements:write"),
    ("/api/v1/announcements/1/withdraw", None, "announcements:write"),
    ("/api/v1/replay/load?start=0&end=60&batch=b", None, "replay:write"),
]
FORM_WRITES = [
    ("/ops/actions", {"workflows": "wf_form", "action": "kill", "short": "stuck"}),
    ("/ops/announcements", {"message": "hello", "severity": "info", "hours": "1"}),
    ("/ops/announcements/1/withdraw", {}),
    ("/ops/actions/retry", {"workflow": "wf_retry", "task": "/wf_retry/Task1", "job": "job-1", "exit_code": "8021", "site": "T2_CH_CERN"}),
    ("/ops/actions/decide", {"workflow": "wf_decide", "action": "kill", "short": "stuck",
                             "evidence": '{"pattern": [{"exit_code": 8021, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 3}], "verdict": "debug"}'}),
]
ADMIN_FORMS = ["/ops/accounts/1/role", "/ops/accounts/1/disable", "/ops/tokens/1/revoke"]


def test_the_board_stays_readable_without_signing_in(ops_board: OpsBoard) -> None:
    client = ops_board.client()
    for path in ("/", "/api/v1/health", "/api/v1/announcements", "/ops/announcements", "/account/login"):
        assert client.get(ops_board.url + path, timeout=30).status_code == 200, path
    assert client.get(ops_board.url + "/api/v1/actions", timeout=30).status_code == 401


def test_every_write_refuses_an_anonymous_request(ops_board: OpsBoard) -> None:
    client = ops_board.client()
    for path, body, scope in JSON_WRITES:
        response = client.post(ops_board.url + path, json=body, timeout=30)
        assert response.status_code == 401, path
        assert scope in response.json()["error"]
    token = ops_board.csrf(client)
    for path, form in FORM_WRITES:
        assert client.post(ops_board.url + path, data={**form, "csrf_token": token}, timeout=30).status_code == 401, path
    for path in ADMIN_FORMS:
        assert client.post(ops_board.url + path, data={"role": "admin", "csrf_token": token}, timeout=30).status_code == 401, path


def test_every_write_refuses_an_under_privileged_account_or_token(ops_board: OpsBoard) -> None:
    ops_board.account("vera", "viewer")
    ops_board.account("otto", "operator")
    viewer = ops_board.signed_in("vera")
    _, reader = ops_board.token("otto", "actions:read")
    for path, body, scope in JSON_WRITES:
        as_viewer = viewer.post(ops_board.url + path, json=body, headers={"X-CSRFToken": ops_board.csrf(viewer)}, timeout=30)
        assert as_viewer.status_code == 403 and scope in as_viewer.json()["error"], path
        with_token = viewer.post(ops_board.url + path, json=body, headers={"Authorization": f"Bearer {reader}"}, timeout=30)
        assert with_token.status_code == 403, path
    for path, form in FORM_WRITES:
        assert viewer.post(ops_board.url + path, data={**form, "csrf_token": ops_board.csrf(viewer)}, timeout=30).status_code == 403
    operator = ops_board.signed_in("otto")
    for path in ADMIN_FORMS:
        response = operator.post(ops_board.url + path, data={"role": "admin", "csrf_token": ops_board.csrf(operator)}, timeout=30)
        assert response.status_code == 403, path
    assert operator.get(ops_board.url + "/ops/accounts", timeout=30).status_code == 403
    with session(ops_board.settings.ops_url) as opened:
        assert accounts.get(opened, "otto").role == "operator"


def test_a_session_write_without_a_valid_csrf_token_is_refused(ops_board: OpsBoard) -> None:
    ops_board.account("otto", "operator")
    operator = ops_board.signed_in("otto")
    url = ops_board.url + "/api/v1/actions"
    assert operator.post(url, json=ACTION, timeout=30).status_code == 400
    assert operator.post(url, json=ACTION, headers={"X-CSRFToken": "forged"}, timeout=30).status_code == 400
    stranger = ops_board.client()
    assert operator.post(url, json=ACTION, headers={"X-CSRFToken": ops_board.csrf(stranger)}, timeout=30).status_code == 400
    assert operator.post(url, json=ACTION, headers={"X-CSRFToken": ops_board.csrf(operator)}, timeout=30).status_code == 201
    for path, form in FORM_WRITES:
        assert operator.post(ops_board.url + path, data=form, timeout=30).status_code == 400, path
        assert operator.post(ops_board.url + path, data={**form, "csrf_token": "forged"}, timeout=30).status_code == 400, path
    assert stranger.post(ops_board.url + "/account/login", data={"name": "otto", "password": PASSWORD}, timeout=30).status_code == 400
    assert operator.post(ops_board.url + "/account/logout", timeout=30).status_code == 400
    pending = operator.get(ops_board.url + "/api/v1/actions", timeout=30).json()
    assert list(pending) == ["wf_auth"]
    operator.post(ops_board.url + "/account/logout", data={"csrf_token": ops_board.csrf(operator)}, timeout=30)
    assert operator.get(ops_board.url + "/api/v1/actions", timeout=30).status_code == 401


def test_a_token_works_only_for_its_scopes_and_stops_working_when_revoked(ops_board: OpsBoard) -> None:
    ops_board.account("executor", "operator")
    token_id, token = ops_board.token("executor", "actions:read", "actions:report")
    client = ops_board.client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(ops_board.url + "/api/v1/actions", headers=bearer, timeout=30).status_code == 200
    assert client.post(ops_board.url + "/api/v1/actions/report", json={"workflows": ["wf_x"]}, headers=bearer, timeout=30).status_code == 200
    assert client.post(ops_board.url + "/api/v1/actions", json=ACTION, headers=bearer, timeout=30).status_code == 403
    assert client.post(ops_board.url + "/api/v1/announcements", json={"message": "m", "hours": 1}, headers=bearer,
                       timeout=30).status_code == 403
    with session(ops_board.settings.ops_url) as opened:
        tokens.revoke(opened, token_id)
    refused = client.get(ops_board.url + "/api/v1/actions", headers=bearer, timeout=30)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    assert client.get(ops_board.url + "/api/v1/actions", headers={"Authorization": "Bearer fwjr_made_up"}, timeout=30).status_code == 401


def test_an_admin_revokes_a_token_and_disables_an_account_on_the_accounts_page(ops_board: OpsBoard) -> None:
    ops_board.account("root", "admin")
    ops_board.account("executor", "operator")
    token_id, token = ops_board.token("executor", "actions:read")
    _, other = ops_board.token("executor", "actions:read")
    admin = ops_board.signed_in("root")
    page = admin.get(ops_board.url + "/ops/accounts", timeout=30)
    assert page.status_code == 200 and "executor" in page.text
    csrf = ops_board.csrf(admin, "/ops/accounts")
    assert admin.post(f"{ops_board.url}/ops/tokens/{token_id}/revoke", data={"csrf_token": csrf}, timeout=30).status_code == 200
    client = ops_board.client()
    assert client.get(ops_board.url + "/api/v1/actions", headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 401
    assert client.get(ops_board.url + "/api/v1/actions", headers={"Authorization": f"Bearer {other}"}, timeout=30).status_code == 200
    with session(ops_board.settings.ops_url) as opened:
        executor_id = accounts.get(opened, "executor").id
    admin.post(f"{ops_board.url}/ops/accounts/{executor_id}/disable", data={"csrf_token": csrf}, timeout=30)
    assert client.get(ops_board.url + "/api/v1/actions", headers={"Authorization": f"Bearer {other}"}, timeout=30).status_code == 401


def test_a_proxy_identity_header_is_ignored_from_an_address_that_is_not_a_configured_proxy(ops_board: OpsBoard) -> None:
    client = ops_board.client()
    claimed = {"X-Remote-User": "boss", "X-Remote-Groups": "cms-comp-ops;other"}
    assert ops_board.settings.trusted_proxies == ["10.0.0.0/8"]
    assert client.get(ops_board.url + "/api/v1/actions", headers=claimed, timeout=30).status_code == 401
    assert client.post(ops_board.url + "/api/v1/actions", json=ACTION, headers=claimed, timeout=30).status_code == 401
    assert "Sign in" in client.get(ops_board.url + "/account/", headers=claimed, timeout=30).text
    with session(ops_board.settings.ops_url) as opened:
        assert accounts.find(opened, "boss") is None

    ops_board.rebind(trusted_proxies=["127.0.0.1/32"])
    client.headers.update(claimed)
    assert client.get(ops_board.url + "/api/v1/actions", timeout=30).status_code == 200
    csrf = ops_board.csrf(client, "/ops/actions")
    assert client.post(ops_board.url + "/api/v1/actions", json=ACTION, timeout=30).status_code == 400
    stored = client.post(ops_board.url + "/api/v1/actions", json=ACTION, headers={"X-CSRFToken": csrf}, timeout=30)
    assert stored.status_code == 201 and stored.json()["actions"][0]["user"] == "boss"
    viewer = {"X-Remote-User": "guest", "X-Remote-Groups": "cms-users", "X-CSRFToken": csrf}
    assert client.post(ops_board.url + "/api/v1/actions", json=ACTION, headers=viewer, timeout=30).status_code == 403
    with session(ops_board.settings.ops_url) as opened:
        assert (accounts.get(opened, "boss").role, accounts.get(opened, "guest").role) == ("operator", "viewer")


def _link(message: object, path: str) -> str:
    body = message.get_payload(decode=True).decode()  # type: ignore[attr-defined]
    found = re.search(rf"(http://\S+{path}/\S+)", body)
    assert found, body
    return found.group(1)


def test_registration_is_confirmed_by_a_mailed_link_and_limited_to_allowed_domains(ops_board: OpsBoard) -> None:
    client = ops_board.client()
    register = ops_board.url + "/account/register"
    form = {"email": "eve@evil.example", "password": PASSWORD, "repeat": PASSWORD}
    refused = client.post(register, data={**form, "csrf_token": ops_board.csrf(client, "/account/register")}, timeout=30)
    assert refused.status_code == 400 and "evil.example may not register" in refused.text
    assert ops_board.mailbox.messages == []
    form["email"] = "Ana@cern.ch"
    sent = client.post(register, data={**form, "csrf_token": ops_board.csrf(client, "/account/register")}, timeout=30)
    assert sent.status_code == 200 and "confirmation link was sent" in sent.text
    [message] = ops_board.mailbox.messages
    assert message["To"] == "ana@cern.ch"
    login = {"name": "ana@cern.ch", "password": PASSWORD}
    early = client.post(ops_board.url + "/account/login", data={**login, "csrf_token": ops_board.csrf(client)}, timeout=30)
    assert early.status_code == 401 and "not confirmed" in early.text
    link = _link(message, "/account/confirm")
    assert client.get(link[:-3] + "xyz", timeout=30).status_code == 400
    assert client.get(link, timeout=30).status_code == 200
    signed = client.post(ops_board.url + "/account/login", data={**login, "csrf_token": ops_board.csrf(client)}, allow_redirects=False,
                         timeout=30)
    assert signed.status_code == 302
    assert "ana@cern.ch (viewer)" in client.get(ops_board.url + "/account/", timeout=30).text
    with session(ops_board.settings.ops_url) as opened:
        assert accounts.find(opened, "eve@evil.example") is None


def test_a_password_reset_link_works_once(ops_board: OpsBoard) -> None:
    ops_board.account("bob", email="bob@cern.ch")
    client = ops_board.client()
    asked = client.post(ops_board.url + "/account/reset", data={"email": "bob@cern.ch", "csrf_token": ops_board.csrf(client, "/account/reset")},
                        timeout=30)
    assert asked.status_code == 200
    client.post(ops_board.url + "/account/reset", data={"email": "nobody@cern.ch", "csrf_token": ops_board.csrf(client, "/account/reset")},
                timeout=30)
    [message] = ops_board.mailbox.messages
    link = _link(message, "/account/reset")
    new = "another long password"
    path = link.split(ops_board.url, 1)[1]
    changed = client.post(link, data={"password": new, "repeat": new, "csrf_token": ops_board.csrf(client, path)}, allow_redirects=False,
                          timeout=30)
    assert changed.status_code == 302
    assert client.get(link, timeout=30).status_code == 400
    ops_board.signed_in("bob", new)
    stale = ops_board.client()
    assert stale.post(ops_board.url + "/account/login", data={"name": "bob", "password": PASSWORD, "csrf_token": ops_board.csrf(stale)},
                      timeout=30).status_code == 401


def test_sign_in_attempts_are_rate_limited_per_client(ops_board: OpsBoard) -> None:
    ops_board.account("carl")
    client = ops_board.client()
    statuses = []
    for _ in range(5):
        wrong = {"name": "carl", "password": "not the password", "csrf_token": ops_board.csrf(client)}
        statuses.append(client.post(ops_board.url + "/account/login", data=wrong, timeout=30).status_code)
    right = {"name": "carl", "password": PASSWORD, "csrf_token": ops_board.csrf(client)}
    assert statuses == [401] * 5
    assert client.post(ops_board.url + "/account/login", data=right, timeout=30).status_code == 429


def test_the_session_cookie_is_http_only_same_site_and_secure_when_configured(ops_board: OpsBoard) -> None:
    ops_board.account("dora")
    client = ops_board.client()
    data = {"name": "dora", "password": PASSWORD, "csrf_token": ops_board.csrf(client)}
    cookie = client.post(ops_board.url + "/account/login", data=data, allow_redirects=False, timeout=30).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    ops_board.rebind(session_cookie_secure=True)
    client = ops_board.client()
    response = client.get(ops_board.url + "/account/login", timeout=30)
    assert "Secure" in response.headers["Set-Cookie"]


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_html_in_reasons_and_announcements_comes_back_escaped(ops_board: OpsBoard) -> None:
    ops_board.account("otto", "operator")
    _, token = ops_board.token("otto", "actions:write", "announcements:write")
    bearer = {"Authorization": f"Bearer {token}"}
    client = ops_board.client()
    action = {"workflows": ["wf_html"], "action": "kill", "reasons": [{"short": HOSTILE, "long": HOSTILE}]}
    assert client.post(ops_board.url + "/api/v1/actions", json=action, headers=bearer, timeout=30).status_code == 201
    posted = client.post(ops_board.url + "/api/v1/announcements", json={"message": HOSTILE, "severity": "warning", "hours": 2},
                         headers=bearer, timeout=30)
    assert posted.status_code == 201
    operator = ops_board.signed_in("otto")
    for path in ("/ops/actions", "/ops/announcements"):
        page = operator.get(ops_board.url + path, timeout=30).text
        assert str(escape(HOSTILE)) in page and HOSTILE not in page and "<script>alert" not in page, path
    banner = client.post(ops_board.url + "/_dash-update-component", timeout=30, json={
        "output": "announcement-banner.children", "outputs": {"id": "announcement-banner", "property": "children"},
        "inputs": [{"id": "announcement-banner-tick", "property": "n_intervals", "value": None}], "changedPropIds": [],
    })
    assert banner.status_code == 200
    [line] = banner.json()["response"]["announcement-banner"]["children"]
    assert HOSTILE in line["props"]["children"]
    assert {c["type"] for c in line["props"]["children"] if isinstance(c, dict)} == {"Strong", "Span"}
    assert "dangerously_allow_html" not in json.dumps(banner.json())


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_signing_in_never_redirects_off_the_board(ops_board: OpsBoard, target: str) -> None:
    ops_board.account("fay")
    client = ops_board.client()
    data = {"name": "fay", "password": PASSWORD, "csrf_token": ops_board.csrf(client)}
    response = client.post(ops_board.url + "/account/login", params={"next": target}, data=data, allow_redirects=False, timeout=30)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_decision_form_refuses_what_it_cannot_store_and_says_why(ops_board: OpsBoard) -> None:
    ops_board.account("otto", "operator")
    operator = ops_board.signed_in("otto")
    pattern = '{"pattern": [{"exit_code": 50660, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 12}], "verdict": "resources"}'
    form = {"workflow": "wf_decide", "action": "more-memory", "amount": "1000", "short": "RSS", "evidence": pattern}
    cases = [
        ({"evidence": '{"verdict": "resources"}'}, "evidence.pattern"),
        ({"evidence": "not json"}, "evidence is not JSON"),
        ({"evidence": pattern.replace('"resources"', '"reboot"')}, "evidence.verdict='reboot'"),
        ({"amount": ""}, "parameters.amount is missing"),
        ({"also": "wf_ok, <b>bad</b>"}, "is not a workflow name"),
    ]
    for change, message in cases:
        refused = operator.post(ops_board.url + "/ops/actions/decide", data={**form, **change, "csrf_token": ops_board.csrf(operator)}, timeout=30)
        assert refused.status_code == 400 and str(escape(message)) in refused.text, (change, refused.text[-400:])
    stored = operator.post(ops_board.url + "/ops/actions/decide", data={**form, "also": "wf_other", "csrf_token": ops_board.csrf(operator)},
                           allow_redirects=False, timeout=30)
    assert stored.status_code == 302
    listed = operator.get(ops_board.url + "/api/v1/actions", timeout=30).json()
    assert set(listed) == {"wf_decide", "wf_other"} and listed["wf_other"]["parameters"] == {"amount": 1000}
