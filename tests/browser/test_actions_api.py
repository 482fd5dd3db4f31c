"""The executor's API and the announcements API on the served board, on SQLite and PostgreSQL;
the replay hand-over takes a token instead of trusting the loopback address."""

from __future__ import annotations

import pyarrow as pa
import pytest

from fwjr.ops.replay_token import ensure_local
from fwjr.store.handover import ENDPOINT, encode_rows, post_to_owner
from tests.fixtures.alert_receivers import mailbox  # noqa: F401  (fixtures)
from tests.fixtures.ops_board import OpsBoard, ops_board, served  # noqa: F401  (fixtures)
from tests.fixtures.postgres import ops_url, postgres_server  # noqa: F401  (fixtures)


@pytest.fixture
def executor(ops_board: OpsBoard) -> tuple[OpsBoard, dict[str, str], dict[str, str]]:
    """(board, operator's submit headers, executor's read/report headers)."""
    ops_board.account("otto", "operator")
    ops_board.account("executor", "operator")
    _, submit = ops_board.token("otto", "actions:write")
    _, execute = ops_board.token("executor", "actions:read", "actions:report")
    return ops_board, {"Authorization": f"Bearer {submit}"}, {"Authorization": f"Bearer {execute}"}


def test_the_executor_lists_pending_actions_and_reports_them(executor: tuple[OpsBoard, dict, dict]) -> None:
    board, operator, service = executor
    client = board.client()
    first = {"workflows": ["wf_one"], "action": "more-memory", "parameters": {"amount": 4000},
             "reasons": [{"short": "memory", "long": "8028 exit codes at T1_US_FNAL"}],
             "evidence": {"verdict": "resources", "top_exit_codes": [[8028, 40]]}}
    second = {"workflows": ["wf_two"], "action": "sites", "parameters": {"sites": ["T2_CH_CERN", "T1_US_FNAL"]},
              "reasons": [{"short": "site down"}]}
    stored = [client.post(board.url + "/api/v1/actions", json=body, headers=operator, timeout=30) for body in (first, second)]
    assert [r.status_code for r in stored] == [201, 201]
    [one] = stored[0].json()["actions"]
    assert (one["workflow"], one["action"], one["parameters"], one["user"], one["state"]) == ("wf_one", "more-memory", {"amount": 4000}, "otto", "pending")
    assert isinstance(one["id"], int) and isinstance(one["submitted"], int)
    assert one["evidence"] == {"verdict": "resources", "top_exit_codes": [[8028, 40]]}
    assert stored[1].json()["actions"][0]["evidence"] == {}

    pending = client.get(board.url + "/api/v1/actions", params={"days": 1}, headers=service, timeout=30).json()
    assert set(pending) == {"wf_one", "wf_two"}
    assert pending["wf_one"] == {
        "id": one["id"], "action": "more-memory", "parameters": {"amount": 4000}, "user": "otto", "submitted": one["submitted"], "state": "pending",
        "acted": None, "reasons": [{"short": "memory", "long": "8028 exit codes at T1_US_FNAL"}],
    }
    assert pending["wf_two"]["parameters"] == {"sites": ["T1_US_FNAL", "T2_CH_CERN"]}

    report = client.post(board.url + "/api/v1/actions/report", json={"workflows": ["wf_one"]}, headers=service, timeout=30)
    assert report.json() == {"success": ["wf_one"], "already_reported": [], "does_not_exist": []}
    assert list(client.get(board.url + "/api/v1/actions", headers=service, timeout=30).json()) == ["wf_two"]
    assert list(client.get(board.url + "/api/v1/actions", params={"acted": 1}, headers=service, timeout=30).json()) == ["wf_one"]
    assert set(client.get(board.url + "/api/v1/actions", params={"acted": -1}, headers=service, timeout=30).json()) == {"wf_one", "wf_two"}
    again = client.post(board.url + "/api/v1/actions/report", json={"workflows": ["wf_one", "wf_unknown"]}, headers=service, timeout=30)
    assert again.json() == {"success": [], "already_reported": ["wf_one"], "does_not_exist": ["wf_unknown"]}


@pytest.mark.parametrize(("body", "named"), [
    ({"action": "more-memory", "parameters": {"amount": -5}}, "parameters.amount=-5"),
    ({"action": "more-wallclock", "parameters": {"amount": "1h"}}, "parameters.amount='1h'"),
    ({"action": "split", "parameters": {"factor": 1000}}, "parameters.factor=1000"),
    ({"action": "sites", "parameters": {"sites": "T2_CH_CERN"}}, "parameters.sites='T2_CH_CERN'"),
    ({"action": "clone", "parameters": {"colour": "red"}}, "parameters.colour"),
    ({"action": "retire"}, "action='retire'"),
    ({"action": "resubmit", "parameters": {"tasks": ["Task without a path"]}}, "parameters.tasks: 'Task without a path'"),
    ({"action": "kill", "evidence": ["8021"]}, "evidence=['8021']"),
    ({"action": "kill", "evidence": {"text": "x" * 70_000}}, "evidence: 70011 bytes"),
])
def test_a_submission_with_a_bad_parameter_answers_400_naming_it(executor: tuple[OpsBoard, dict, dict], body: dict, named: str) -> None:
    board, operator, service = executor
    client = board.client()
    full = {"workflows": ["wf_bad"], "reasons": [{"short": "why"}], **body}
    response = client.post(board.url + "/api/v1/actions", json=full, headers=operator, timeout=30)
    assert response.status_code == 400 and named in response.json()["error"]
    assert client.get(board.url + "/api/v1/actions", headers=service, timeout=30).json() == {}


@pytest.mark.parametrize(("params", "named"), [({"days": "x"}, "days='x'"), ({"days": 0}, "days=0"), ({"acted": 2}, "acted='2'")])
def test_listing_parameters_are_checked(executor: tuple[OpsBoard, dict, dict], params: dict, named: str) -> None:
    board, _, service = executor
    response = board.client().get(board.url + "/api/v1/actions", params=params, headers=service, timeout=30)
    assert response.status_code == 400 and named in response.json()["error"]


def test_an_announcement_posted_with_a_token_shows_until_withdrawn(executor: tuple[OpsBoard, dict, dict]) -> None:
    board, _, _ = executor
    _, token = board.token("otto", "announcements:write")
    bearer = {"Authorization": f"Bearer {token}"}
    client = board.client()
    posted = client.post(board.url + "/api/v1/announcements", json={"message": "EOS intervention", "severity": "critical", "hours": 3},
                         headers=bearer, timeout=30)
    assert posted.status_code == 201
    shown = client.get(board.url + "/api/v1/announcements", timeout=30).json()["announcements"]
    assert [(a["message"], a["severity"], a["user"]) for a in shown] == [("EOS intervention", "critical", "otto")]
    bad = client.post(board.url + "/api/v1/announcements", json={"message": "x", "severity": "loud", "hours": 1}, headers=bearer, timeout=30)
    assert bad.status_code == 400 and "severity='loud'" in bad.json()["error"]
    withdrawn = client.post(f"{board.url}/api/v1/announcements/{posted.json()['id']}/withdraw", headers=bearer, timeout=30)
    assert withdrawn.status_code == 200
    assert client.get(board.url + "/api/v1/announcements", timeout=30).json()["announcements"] == []
    history = client.get(board.url + "/api/v1/announcements", params={"all": 1}, timeout=30).json()["announcements"]
    assert [a["withdrawn"] is not None for a in history] == [True]


def test_the_replay_hand_over_takes_a_replay_token_not_the_loopback_address(executor: tuple[OpsBoard, dict, dict]) -> None:
    board, operator, _ = executor
    board.account("root", "admin")
    _, replay = board.token("root", "replay:write")
    empty = pa.table({"bucket": pa.array([], pa.int64())})
    body = encode_rows(empty, empty)
    url = f"{board.url}{ENDPOINT}"
    client = board.client()
    assert client.post(url, params={"start": 0, "end": 60, "batch": "b"}, data=body, timeout=30).status_code == 401
    assert client.post(url, params={"start": 0, "end": 60, "batch": "b"}, data=body, headers=operator, timeout=30).status_code == 403
    missing = client.post(url, params={"start": 0, "end": 60}, data=body, headers={"Authorization": f"Bearer {replay}"}, timeout=30)
    assert missing.status_code == 400 and "batch" in missing.json()["error"]


def test_fwjr_replay_sends_the_token_the_local_stack_leaves_in_its_home(ops_board: OpsBoard) -> None:
    settings = ops_board.settings.model_copy(update={"dashboard_port": int(ops_board.url.rsplit(":", 1)[1])})
    empty = pa.table({"bucket": pa.array([], pa.int64())})
    with pytest.raises(RuntimeError, match="FWJR_REPLAY_TOKEN"):
        post_to_owner(settings, 0, 60, empty, empty, "batch-local")
    ensure_local(settings)
    token_file = settings.replay_token_file
    assert token_file.stat().st_mode & 0o777 == 0o600
    first = token_file.read_text()
    ensure_local(settings)
    assert token_file.read_text() == first
    with pytest.raises(RuntimeError) as refused:
        post_to_owner(settings, 0, 60, empty, empty, "batch-local")
    assert "refused the replay (400)" in str(refused.value)
    with pytest.raises(RuntimeError, match=r"refused the replay \(401\)"):
        post_to_owner(settings.model_copy(update={"replay_token": "fwjr_not_a_token"}), 0, 60, empty, empty, "batch-local")


def test_the_failed_job_retry_button_stores_a_resubmit_of_its_task(executor: tuple[OpsBoard, dict, dict]) -> None:
    board, _, service = executor
    operator = board.signed_in("otto")
    form = {"workflow": "wf_retry", "task": "/wf_retry/Task1/Merge", "job": "job-7", "exit_code": "8021", "site": "T2_CH_CERN",
            "csrf_token": board.csrf(operator)}
    answer = operator.post(board.url + "/ops/actions/retry", data=form, allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/ops/actions")
    pending = board.client().get(board.url + "/api/v1/actions", headers=service, timeout=30).json()
    assert pending["wf_retry"]["action"] == "resubmit"
    assert pending["wf_retry"]["parameters"] == {"tasks": ["/wf_retry/Task1/Merge"]}
    assert pending["wf_retry"]["reasons"][0]["long"] == "retry of failed job job-7 (exit code 8021) from the failed-jobs page"
    untasked = {**form, "workflow": "wf_retry_all", "task": "<b>not a task</b>", "csrf_token": board.csrf(operator)}
    assert operator.post(board.url + "/ops/actions/retry", data=untasked, allow_redirects=False, timeout=30).status_code == 302
    assert board.client().get(board.url + "/api/v1/actions", headers=service, timeout=30).json()["wf_retry_all"]["parameters"] == {}
    nameless = {**form, "workflow": "<script>", "csrf_token": board.csrf(operator)}
    refused = operator.post(board.url + "/ops/actions/retry", data=nameless, allow_redirects=False, timeout=30)
    assert refused.status_code == 400 and "&lt;script&gt;" in refused.text and "<script>" not in refused.text
