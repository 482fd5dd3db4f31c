"""`fwjr users`, `fwjr tokens`, `fwjr ops` and `fwjr actions`: the operational database from the command line.

For the first admin, for service accounts (the executor) and for scripts. Writes are
recorded in the audit log as `cli:<login name>`.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fwjr.ops.roles import SCOPES, parse_role

users_app = typer.Typer(help="Accounts of the board: add, list, set roles, disable.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: create (printed once), list, revoke.", no_args_is_help=True)
ops_app = typer.Typer(help="The operational database (accounts, actions, announcements).", no_args_is_help=True)
actions_app = typer.Typer(help="Operators' actions: learn from them which action fits which error pattern.", no_args_is_help=True)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _database() -> str:
    """The operational database's URL, migrated (imported here: the rest of `fwjr` does not need SQLAlchemy)."""
    from fwjr.config import settings
    from fwjr.ops.migrate import upgrade

    url = settings().ops_url
    upgrade(url)
    return url


def _fail(error: ValueError) -> typer.Exit:
    typer.echo(f"fwjr: {error}", err=True)
    return typer.Exit(2)


@ops_app.command("migrate")
def migrate() -> None:
    """Apply the operational database's migrations (from empty, idempotent)."""
    from fwjr.config import settings
    from fwjr.ops.migrate import upgrade

    applied = upgrade(settings().ops_url)
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Account name (sign-in name; an e-mail address works too).")],
    email: Annotated[Optional[str], typer.Option("--email", help="E-mail address (for password resets).")] = None,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="No password: a service account (tokens) or proxy sign-in only.")] = False,
) -> None:
    """Add an account (confirmed). Without --password-stdin or --no-password the password is prompted for."""
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    from fwjr.ops import accounts, audit
    from fwjr.ops.database import session

    url = _database()
    try:
        with session(url) as opened:
            account = accounts.create(opened, name, email=email, password=password, role=role, source="cli")
            audit.record(opened, _actor(), "account.create", account.name, {"role": account.role})
    except ValueError as error:
        raise _fail(error) from None
    typer.echo(f"added {account.name} ({account.role})")


@users_app.command("list")
def list_users() -> None:
    """Accounts, one a line: name, role, state, e-mail, where it came from."""
    from fwjr.ops import accounts
    from fwjr.ops.database import session

    url = _database()
    with session(url) as opened:
        for account in accounts.listing(opened):
            state = "disabled" if account.disabled else "active" if account.confirmed else "unconfirmed"
            typer.echo(f"{account.name}\t{account.role}\t{state}\t{account.email or '-'}\t{account.source}")


@users_app.command("set-role")
def set_role(
    name: Annotated[str, typer.Argument(help="Account name or e-mail address.")],
    role: Annotated[str, typer.Argument(help="viewer, operator or admin.")],
) -> None:
    """Change an account's role (its tokens lose scopes the new role does not allow)."""
    from fwjr.ops import accounts, audit
    from fwjr.ops.database import session

    url = _database()
    try:
        with session(url) as opened:
            account = accounts.get(opened, name)
            account.role = parse_role(role).value
            audit.record(opened, _actor(), "account.role", account.name, {"role": account.role})
    except ValueError as error:
        raise _fail(error) from None
    typer.echo(f"{account.name} is now {account.role}")


@users_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="Account name or e-mail address.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable it again instead.")] = False,
) -> None:
    """Disable an account: it cannot sign in, and its tokens stop working."""
    from fwjr.ops import accounts, audit
    from fwjr.ops.database import session

    url = _database()
    try:
        with session(url) as opened:
            account = accounts.get(opened, name)
            account.disabled = not enable
            audit.record(opened, _actor(), "account.enable" if enable else "account.disable", account.name)
    except ValueError as error:
        raise _fail(error) from None
    typer.echo(f"{account.name} is {'enabled' if enable else 'disabled'}")


@tokens_app.command("create")
def create(
    user: Annotated[str, typer.Option("--user", help="The account the token acts for.")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"Repeatable: {', '.join(SCOPES)}.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
) -> None:
    """Create a token and print it (only now: it is stored hashed)."""
    from fwjr.ops import accounts, audit, tokens
    from fwjr.ops.database import session

    url = _database()
    try:
        with session(url) as opened:
            account = accounts.get(opened, user)
            row, text = tokens.create(opened, account, scope, label)
            audit.record(opened, _actor(), "token.create", f"token {row.id}", {"user": account.name, "scopes": row.scope_list})
    except ValueError as error:
        raise _fail(error) from None
    typer.echo(f"token {row.id} for {account.name} ({row.scopes}):", err=True)
    typer.echo(text)


@tokens_app.command("list")
def list_tokens() -> None:
    """Tokens, one a line: id, account, scopes, label, created, revoked."""
    from fwjr.ops import tokens
    from fwjr.ops.database import session

    url = _database()
    with session(url) as opened:
        for row in tokens.listing(opened):
            revoked = row.revoked.isoformat(timespec="seconds") if row.revoked else "-"
            typer.echo(f"{row.id}\t{row.account.name}\t{row.scopes}\t{row.label or '-'}\t{row.created.isoformat(timespec='seconds')}\t{revoked}")


@tokens_app.command("revoke")
def revoke(token_id: Annotated[int, typer.Argument(help="The token's id (from `fwjr tokens list`).")]) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    from fwjr.ops import audit, tokens
    from fwjr.ops.database import session

    url = _database()
    try:
        with session(url) as opened:
            row = tokens.revoke(opened, token_id)
            audit.record(opened, _actor(), "token.revoke", f"token {row.id}")
    except ValueError as error:
        raise _fail(error) from None
    typer.echo(f"token {token_id} revoked")


@actions_app.command("train")
def train() -> None:
    """Learn the action for an error pattern from the acted and pending actions; evaluated on the newest fifth.

    Exits 1, storing nothing, when the history is too little (FWJR_SUGGEST_MIN_*).
    """
    from fwjr.config import settings
    from fwjr.ops import suggestions
    from fwjr.ops.database import session

    url = _database()
    with session(url) as opened:
        report = suggestions.train(opened, settings())
    for line in report.lines():
        typer.echo(line)
    if not report.trained:
        raise typer.Exit(1)


@actions_app.command("suggest")
def suggest(
    pattern: Annotated[Path, typer.Option("--pattern", help="JSON file: an action's evidence {pattern, verdict}, or just the pattern list.")],
) -> None:
    """The trained model's action for an error pattern, with its confidence, or why it stays silent."""
    from fwjr.config import settings
    from fwjr.ops import suggestions

    try:
        given = json.loads(pattern.read_text())
        evidence = given if isinstance(given, dict) else {"pattern": given}
        suggestion, why = suggestions.advise(settings(), evidence.get("pattern"), evidence.get("verdict"))
    except (OSError, ValueError) as error:
        raise _fail(ValueError(f"{pattern}: {error}")) from None
    if suggestion is None:
        typer.echo(f"no suggestion: {why}")
        return
    typer.echo(f"{suggestion.action} (confidence {suggestion.confidence:.2f}; model trained {suggestion.trained_at.isoformat(timespec='seconds')}, "
               f"held-out accuracy {suggestion.accuracy:.3f} against {suggestion.baseline:.3f} for the most frequent action)")


def register(app: typer.Typer) -> None:
    """Attach the command groups to the `fwjr` application."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(ops_app, name="ops")
    app.add_typer(actions_app, name="actions")
