"""Accounts: creating them, checking passwords (argon2), roles, disabling, and proxy sign-in."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fwjr.ops.models import Account
from fwjr.ops.roles import Role, parse_role

MIN_PASSWORD = 12
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,199}$")
EMAIL = re.compile(r"^[^@\s<>\"']+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
_hasher = PasswordHasher()
# Verified against when the account does not exist, so a wrong name costs as long as a wrong password.
_ABSENT = _hasher.hash("no account has this password")


class LoginRefused(Exception):
    """Why a sign-in was refused, in words fit to show (never says whether the name exists)."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"account name {name!r}: expected letters, digits and _.@+- (at most 200)")
    return name


def check_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > 320:
        raise ValueError(f"{email!r} is not an e-mail address")
    return email


def email_domain(email: str) -> str:
    return check_email(email).rsplit("@", 1)[1]


def find(session: Session, name: str) -> Account | None:
    """The account with this name, or with this e-mail address."""
    return session.scalars(select(Account).where((Account.name == name) | (Account.email == name.strip().lower()))).first()


def get(session: Session, name: str) -> Account:
    """The named account; ValueError when there is none."""
    account = find(session, name)
    if account is None:
        raise ValueError(f"no account {name!r}")
    return account


def create(session: Session, name: str, *, email: str | None = None, password: str | None = None, role: str = Role.viewer,
           confirmed: bool = True, source: str = "cli") -> Account:
    """A new account; ValueError when the name or address is taken or malformed."""
    check_name(name)
    address = check_email(email) if email else None
    if find(session, name) is not None or (address and find(session, address) is not None):
        raise ValueError(f"an account named {name!r} or with that address exists already")
    account = Account(
        name=name, email=address, password_hash=hash_password(password) if password else None,
        role=parse_role(role).value, confirmed=confirmed, disabled=False, source=source,
    )
    session.add(account)
    session.flush()
    return account


def set_password(account: Account, password: str) -> None:
    account.password_hash = hash_password(password)


def authenticate(session: Session, login: str, password: str) -> Account:
    """The account these credentials open; LoginRefused otherwise."""
    account = find(session, login.strip())
    if account is None or account.password_hash is None:
        _verify(_ABSENT, password)
        raise LoginRefused("wrong name or password")
    if not _verify(account.password_hash, password):
        raise LoginRefused("wrong name or password")
    if account.disabled:
        raise LoginRefused("this account is disabled; ask an administrator")
    if not account.confirmed:
        raise LoginRefused("this address is not confirmed yet: follow the link in the confirmation mail")
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


def proxy_account(session: Session, name: str, role: Role | None) -> Account:
    """The account a trusted proxy vouches for, created on first sight.

    With a role (the proxy's groups map to one) the account takes it; without, it keeps its own.
    """
    account = session.scalars(select(Account).where(Account.name == name)).first()
    if account is None:
        account = Account(name=check_name(name), role=(role or Role.viewer).value, confirmed=True, disabled=False, source="proxy")
        session.add(account)
        session.flush()
    elif role is not None and account.role != role.value:
        account.role = role.value
    return account


def listing(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(func.lower(Account.name))))
