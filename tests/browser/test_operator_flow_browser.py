"""An operator's whole path in headless Chromium, on SQLite and on PostgreSQL: register (the
confirmation mail caught by a real SMTP server), confirm by the mailed link, be made operator,
sign in, open a failing workflow, submit its suggested action with a reason and one similar
workflow ticked, see the announcement another operator posted through the API; then the
executor's API lists both actions and reporting them takes them off the pending list. The
reason and the announcement are HTML and must read as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import msgspec
import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from dashboard import auth
from dashboard.server import create_app, serve_in_thread
from fwjr.ops import accounts, tokens
from fwjr.ops.database import session
from fwjr.ops.models import Account, Action
from tests.browser.test_dashboard_browser import console_errors, wait_text
from tests.fixtures.alert_receivers import Mailbox, mailbox  # noqa: F401  (fixtures)
from tests.fixtures.browser import SCREENSHOTS, browser, seed  # noqa: F401  (fixtures)
from tests.fixtures.postgres import ops_url, postgres_server  # noqa: F401  (fixtures)
from tests.fixtures.triage_board import TriageStore, triage_store  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
WAIT = 30
PASSWORD = "a long enough password"
REASON = "<b>needs memory</b><script>window.__pwned = 1</script>"
EXPLANATION = "RSS over the limit at <i>every</i> site & every retry"
ANNOUNCEMENT = "<img src=x onerror=\"window.__pwned = 2\"> EOS is back; ACDC what failed before 16:00"


def twin_name(workflow: str) -> str:
    return workflow[:280] + "_twin"


@pytest.fixture(scope="module")
def flow_board(triage_store: TriageStore) -> Iterator[tuple[str, TriageStore]]:
    """The board over the incidents' store, with a twin of the memory incident (the same jobs
    under another workflow name), so that the incident has a similar workflow to include."""
    incident = triage_store.incidents["resources"]
    twin = [msgspec.structs.replace(job, identity=job.identity + "-twin", workflow=twin_name(incident), fwjr_id=job.fwjr_id + "-twin")
            for job in triage_store.jobs if job.workflow == incident]
    seed(triage_store.store, twin, batch="twin-seed")
    server = serve_in_thread(triage_store.settings, triage_store.store, port=0)
    yield server.url.rstrip("/"), triage_store
    server.close()


def _mailed_link(box: Mailbox, path: str) -> str:
    WebDriverWait(None, WAIT, poll_frequency=0.2).until(lambda _: box.messages)
    body = box.messages[-1].get_payload(decode=True).decode()
    found = re.search(r"https?://\S+" + re.escape(path) + r"\S*", body)
    assert found, body
    return found.group(0)


def _submit(driver, fields: dict[str, str], form_css: str = "form") -> None:
    for name, value in fields.items():
        box = driver.find_element(By.CSS_SELECTOR, f"{form_css} [name='{name}']")
        box.clear()
        box.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, f"{form_css} button[type='submit']").click()


def test_an_operator_registers_decides_and_the_executor_acts(flow_board: tuple[str, TriageStore], browser, ops_url: str,
                                                             mailbox: Mailbox) -> None:
    url, seeded = flow_board
    settings = seeded.settings.model_copy(update={
        "ops_database_url": ops_url, "board_url": url, "registration_domains": ["cern.ch"],
        "mail_smtp_host": mailbox.host, "mail_smtp_port": mailbox.port,
    })
    create_app(settings, seeded.store)
    auth.limiter.reset()
    browser.delete_all_cookies()
    email = "ana.operator@cern.ch"

    browser.get(url + "/account/register")
    _submit(browser, {"email": email, "password": PASSWORD, "repeat": PASSWORD})
    WebDriverWait(browser, WAIT).until(lambda d: "confirmation link was sent" in d.page_source)
    browser.get(_mailed_link(mailbox, "/account/confirm"))
    assert "Address confirmed" in browser.page_source
    with session(ops_url) as opened:
        account = opened.scalars(select(Account).where(Account.email == email)).one()
        assert account.role == "viewer"
        account.role = "operator"
        name = account.name
        accounts.create(opened, "otto", email="otto@cern.ch", password=PASSWORD, role="operator")
        _, announcer = tokens.create(opened, accounts.get(opened, "otto"), ["announcements:write"])
        accounts.create(opened, "executor", role="operator")
        _, executor = tokens.create(opened, accounts.get(opened, "executor"), ["actions:read", "actions:report"])

    browser.get(url + "/account/login")
    _submit(browser, {"name": email, "password": PASSWORD})
    WebDriverWait(browser, WAIT).until(lambda d: "/account/login" not in d.current_url)

    incident = seeded.incidents["resources"]
    twin = twin_name(incident)
    browser.get(url + "/workflow?" + urlencode({"name": incident, **seeded.window}))
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "decide-form"))
    facts = browser.find_element(By.ID, "workflow-decision-facts").text
    assert "verdict\nresources" in facts and "more-memory +1000MB" in facts
    assert browser.find_element(By.CSS_SELECTOR, "#decide-action option:checked").get_attribute("value") == "more-memory"
    assert browser.find_element(By.ID, "decide-amount").get_attribute("value") == "1000"
    assert twin in browser.find_element(By.ID, "workflow-similar").text
    browser.find_element(By.XPATH, f"//*[@id='decide-similar']//label[contains(., '{twin}')]").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "decide-also").get_attribute("value") == twin)
    browser.find_element(By.ID, "decide-short").send_keys(REASON)
    browser.find_element(By.ID, "decide-long").send_keys(EXPLANATION)
    assert console_errors(browser) == []
    browser.save_screenshot(str(SCREENSHOTS / "workflow-decide-form.png"))
    browser.find_element(By.ID, "decide-submit").click()

    WebDriverWait(browser, WAIT).until(lambda d: "/ops/actions" in d.current_url)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert f"more-memory stored for 2 workflow(s): {incident}, {twin}" in page
    assert REASON in page and EXPLANATION in page, "the reason reads as text"
    assert browser.find_elements(By.CSS_SELECTOR, "table b, table i, table script, .announcement img") == []
    assert browser.execute_script("return window.__pwned === undefined")

    with session(ops_url) as opened:
        stored = list(opened.scalars(select(Action).order_by(Action.id)))
        assert [a.workflow for a in stored] == [incident, twin]
        evidence = stored[0].evidence
        assert evidence["verdict"] == "resources" and evidence["remedy"] == "more-memory +1000MB"
        assert evidence["pattern"] and all({"exit_code", "site", "step", "count"} <= set(p) for p in evidence["pattern"])
        assert max(evidence["pattern"], key=lambda p: p["count"])["exit_code"] == 50660

    posted = requests.post(url + "/api/v1/announcements", json={"message": ANNOUNCEMENT, "severity": "warning", "hours": 1},
                           headers={"Authorization": f"Bearer {announcer}"}, timeout=30)
    assert posted.status_code == 201, posted.text
    browser.get(url + "/triage?" + urlencode(seeded.window))
    banner = wait_text(browser, "announcement-banner", lambda text: "EOS is back" in text)
    assert ANNOUNCEMENT in banner and "otto" in banner
    assert browser.find_elements(By.CSS_SELECTOR, "#announcement-banner img") == []
    assert browser.execute_script("return window.__pwned === undefined")
    browser.save_screenshot(str(SCREENSHOTS / "announcement-banner.png"))

    bearer = {"Authorization": f"Bearer {executor}"}
    pending = requests.get(url + "/api/v1/actions?days=1&acted=0", headers=bearer, timeout=30).json()
    assert set(pending) == {incident, twin}
    for workflow in (incident, twin):
        assert pending[workflow]["action"] == "more-memory" and pending[workflow]["parameters"] == {"amount": 1000}
        assert pending[workflow]["reasons"] == [{"short": REASON, "long": EXPLANATION}] and pending[workflow]["user"] == name
    reported = requests.post(url + "/api/v1/actions/report", json={"workflows": [incident, twin]}, headers=bearer, timeout=30).json()
    assert reported["success"] == [incident, twin]
    assert requests.get(url + "/api/v1/actions?days=1&acted=0", headers=bearer, timeout=30).json() == {}
    assert set(requests.get(url + "/api/v1/actions?days=1&acted=1", headers=bearer, timeout=30).json()) == {incident, twin}

    # the reason is offered again to the next decision, as text
    browser.get(url + "/workflow?" + urlencode({"name": twin, **seeded.window}))
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#decide-short-reasons option"))
    offered = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#decide-short-reasons option")]
    assert offered == [REASON]
