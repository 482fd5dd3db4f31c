"""The operational database on SQLite and on a real PostgreSQL: migrations, accounts, tokens, actions."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fwjr.ops import accounts, actions, announcements, tokens
from fwjr.ops.accounts import LoginRefused
from fwjr.ops.database import engine, session
from fwjr.ops.migrate import current, upgrade
from fwjr.ops.models import Base, utcnow
from tests.fixtures.postgres import ops_url, postgres_server  # noqa: F401  (fixtures)

TABLES = {"accounts", "api_tokens", "actions", "reasons", "announcements", "audit_log", "alembic_version"}


def test_migrations_apply_from_empty_and_again_change_nothing(ops_url: str) -> None:
    assert current(ops_url) is None
    assert upgrade(ops_url) == ["0001", "0002"]
    assert set(inspect(engine(ops_url)).get_table_names()) == TABLES
    assert upgrade(ops_url) == []
    assert current(ops_url) == "0002"


def test_the_migrations_create_exactly_the_models_tables(ops_url: str) -> None:
    upgrade(ops_url)
    with engine(ops_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_fwjr_ops_migrate_finds_its_scripts_from_any_working_directory(ops_url: str, tmp_path: Path) -> None:
    env = {"FWJR_HOME": str(tmp_path / "home"), "FWJR_OPS_DATABASE_URL": ops_url, "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "fwjr", "ops", "migrate"]
    first = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    again = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert first.stdout.strip() == "applied: 0001, 0002"
    assert again.stdout.strip() == "applied: nothing (up to date)"


def test_passwords_are_kept_as_argon2_and_unconfirmed_or_disabled_accounts_cannot_sign_in(ops_url: str) -> None:
    upgrade(ops_url)
    with session(ops_url) as opened:
        account = accounts.create(opened, "ana", email="Ana@Cern.ch", password="correct horse battery", confirmed=False)
        assert account.password_hash.startswith("$argon2id$")
        assert "correct horse" not in account.password_hash
    with session(ops_url) as opened, pytest.raises(LoginRefused, match="not confirmed"):
        accounts.authenticate(opened, "ana@cern.ch", "correct horse battery")
    with session(ops_url) as opened:
        accounts.get(opened, "ana").confirmed = True
    with session(ops_url) as opened:
        assert accounts.authenticate(opened, "ana", "correct horse battery").name == "ana"
        with pytest.raises(LoginRefused, match="wrong name or password"):
            accounts.authenticate(opened, "ana", "wrong horse battery")
        with pytest.raises(LoginRefused, match="wrong name or password"):
            accounts.authenticate(opened, "nobody", "correct horse battery")
        accounts.get(opened, "ana").disabled = True
    with session(ops_url) as opened, pytest.raises(LoginRefused, match="disabled"):
        accounts.authenticate(opened, "ana", "correct horse battery")
    with session(ops_url) as opened, pytest.raises(ValueError, match="at least 12"):
        accounts.create(opened, "bo", password="short")


def test_a_token_is_stored_hashed_and_holds_only_scopes_its_role_allows(ops_url: str) -> None:
    upgrade(ops_url)
    with session(ops_url) as opened:
        operator = accounts.create(opened, "executor", role="operator")
        row, text = tokens.create(opened, operator, ["actions:read", "actions:report"], "the executor")
        assert text not in row.digest and row.digest == tokens.digest(text)
        with pytest.raises(ValueError, match="needs the role admin"):
            tokens.create(opened, operator, ["replay:write"])
        with pytest.raises(ValueError, match="scope 'actions:delete'"):
            tokens.create(opened, operator, ["actions:delete"])
    with session(ops_url) as opened:
        assert tokens.resolve(opened, text).scopes == {"actions:read", "actions:report"}
        assert tokens.resolve(opened, text + "x") is None
        accounts.get(opened, "executor").role = "viewer"
    with session(ops_url) as opened:
        assert tokens.resolve(opened, text).scopes == {"actions:read"}
        tokens.revoke(opened, row.id)
    with session(ops_url) as opened:
        assert tokens.resolve(opened, text) is None


def test_a_new_action_supersedes_the_workflows_pending_one_and_reports_are_answered_per_workflow(ops_url: str) -> None:
    upgrade(ops_url)
    since = utcnow() - timedelta(days=1)
    first = actions.parse_submission({"workflows": ["wf_a", "wf_b"], "action": "kill", "reasons": [{"short": "stuck"}]})
    second = actions.parse_submission({"workflows": ["wf_a"], "action": "more-memory", "parameters": {"amount": 4000},
                                       "reasons": [{"short": "oom", "long": "exit 50660"}]})
    with session(ops_url) as opened:
        operator = accounts.create(opened, "op", role="operator")
        actions.submit(opened, first, operator)
        actions.submit(opened, second, operator)
    with session(ops_url) as opened:
        pending = actions.listing(opened, since, 0)
        assert {w: a["action"] for w, a in pending.items()} == {"wf_a": "more-memory", "wf_b": "kill"}
        assert pending["wf_a"]["reasons"] == [{"short": "oom", "long": "exit 50660"}]
        assert pending["wf_a"]["parameters"] == {"amount": 4000} and pending["wf_a"]["user"] == "op"
        assert actions.report(opened, ["wf_a", "wf_zz"], accounts.get(opened, "op")) == {
            "success": ["wf_a"], "already_reported": [], "does_not_exist": ["wf_zz"]}
    with session(ops_url) as opened:
        assert list(actions.listing(opened, since, 0)) == ["wf_b"]
        assert list(actions.listing(opened, since, 1)) == ["wf_a"]
        assert actions.listing(opened, since, -1)["wf_a"]["state"] == "acted"
        assert actions.report(opened, ["wf_a"], accounts.get(opened, "op"))["already_reported"] == ["wf_a"]


@pytest.mark.parametrize(("body", "named"), [
    ({"action": "more-memory", "parameters": {"amount": "lots"}}, "parameters.amount='lots'"),
    ({"action": "more-memory", "parameters": {}}, "parameters.amount is missing"),
    ({"action": "split", "parameters": {"factor": 1}}, "parameters.factor=1"),
    ({"action": "sites", "parameters": {"sites": ["CERN"]}}, "'CERN' is not a site name"),
    ({"action": "kill", "parameters": {"amount": 5}}, "parameters.amount: kill takes no such parameter"),
    ({"action": "explode"}, "action='explode'"),
    ({"action": "kill", "workflows": ["a b"]}, "'a b' is not a workflow name"),
    ({"action": "kill", "reasons": []}, "reasons=[]"),
])
def test_invalid_submissions_name_the_field_and_value(body: dict, named: str) -> None:
    full = {"workflows": ["wf_a"], "reasons": [{"short": "why"}], **body}
    with pytest.raises(actions.InvalidAction) as raised:
        actions.parse_submission(full)
    assert named in str(raised.value)


def test_announcements_show_until_they_expire_or_are_withdrawn(ops_url: str) -> None:
    upgrade(ops_url)
    now = utcnow()
    with session(ops_url) as opened:
        operator = accounts.create(opened, "op", role="operator")
        short = announcements.post(opened, "EOS maintenance", "warning", now + timedelta(hours=1), operator)
        announcements.post(opened, "Grid down", "critical", now + timedelta(hours=2), operator)
        with pytest.raises(ValueError, match="severity='loud'"):
            announcements.post(opened, "x", "loud", now + timedelta(hours=1), operator)
        with pytest.raises(ValueError, match="expires="):
            announcements.post(opened, "x", "info", now - timedelta(hours=1), operator)
    with session(ops_url) as opened:
        assert [a.message for a in announcements.active(opened)] == ["Grid down", "EOS maintenance"]
        assert [a.message for a in announcements.active(opened, now + timedelta(minutes=90))] == ["Grid down"]
        announcements.withdraw(opened, short.id, accounts.get(opened, "op"))
    with session(ops_url) as opened:
        assert [a.message for a in announcements.active(opened)] == ["Grid down"]
        assert len(announcements.history(opened)) == 2
