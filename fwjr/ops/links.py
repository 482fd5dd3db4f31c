"""Signed links mailed to users: address confirmation and one-time password reset.

Signed with the board's key (itsdangerous) and timed. A reset link also carries a
fingerprint of the account's current password hash, so it stops working once used (the
hash changes) and whenever the password is changed another way.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from fwjr.ops.models import Account

CONFIRM, RESET = "fwjr-confirm", "fwjr-reset"


class BadLink(ValueError):
    """A link that is forged, expired or used; the message says which, fit to show."""


def fingerprint(account: Account) -> str:
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:20]


def make(secret: str, purpose: str, account: Account) -> str:
    payload = {"id": account.id, "email": account.email}
    if purpose == RESET:
        payload["pw"] = fingerprint(account)
    return URLSafeTimedSerializer(secret, salt=purpose).dumps(payload)


def account_id(secret: str, purpose: str, token: str, max_age_seconds: float) -> tuple[int, dict]:
    """(account id, payload) of a valid link; BadLink otherwise."""
    try:
        payload = URLSafeTimedSerializer(secret, salt=purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise BadLink("this link has expired; ask for a new one") from None
    except BadSignature:
        raise BadLink("this link is not valid") from None
    return int(payload["id"]), payload


def check(account: Account | None, purpose: str, payload: dict) -> Account:
    """The account a valid link is for, still matching what was mailed; BadLink otherwise."""
    if account is None or account.email != payload.get("email"):
        raise BadLink("this link is not valid")
    if purpose == RESET and payload.get("pw") != fingerprint(account):
        raise BadLink("this link was used already, or the password changed since; ask for a new one")
    return account
