"""API tokens: created for an account with scopes, shown once, kept as a SHA-256 digest.

A token is 32 random bytes, so a fast digest is enough (nothing to brute-force, unlike a
password) and lets a request's token be found by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fwjr.ops.models import Account, ApiToken, utcnow
from fwjr.ops.roles import SCOPES, allows, check_scope

PREFIX = "fwjr_"


@dataclass(frozen=True)
class Bearer:
    """Who a valid token speaks for, and the scopes it may use now."""

    token_id: int
    account_id: int
    name: str
    role: str
    scopes: frozenset[str]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, account: Account, scopes: list[str], label: str = "") -> tuple[ApiToken, str]:
    """A new token; returns its row and the token text (the only time it is known)."""
    if not scopes:
        raise ValueError(f"a token needs at least one scope ({', '.join(SCOPES)})")
    for scope in scopes:
        check_scope(scope)
        if not allows(account.role, scope):
            raise ValueError(f"scope {scope} needs the role {SCOPES[scope]}; {account.name} is {account.role}")
    text = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(account_id=account.id, label=label, digest=digest(text), scopes=" ".join(sorted(set(scopes))))
    session.add(row)
    session.flush()
    return row, text


def resolve(session: Session, text: str) -> Bearer | None:
    """The bearer of a token that exists, is not revoked and whose account is active; else None."""
    row = session.scalars(select(ApiToken).where(ApiToken.digest == digest(text))).first()
    if row is None or row.revoked is not None:
        return None
    account = row.account
    if account.disabled:
        return None
    usable = frozenset(s for s in row.scope_list if s in SCOPES and allows(account.role, s))
    return Bearer(row.id, account.id, account.name, account.role, usable)


def revoke(session: Session, token_id: int) -> ApiToken:
    """Revoke a token by id; ValueError when there is none. Revoking twice keeps the first time."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise ValueError(f"no token with id {token_id}")
    if row.revoked is None:
        row.revoked = utcnow()
    return row


def listing(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
