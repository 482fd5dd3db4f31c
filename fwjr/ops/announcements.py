"""Announcements: a message with a severity, shown on every board page until it expires or is withdrawn."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fwjr.ops.models import Account, Announcement, utcnow

SEVERITIES = ("info", "warning", "critical")
MAX_LENGTH = 2000
MAX_DAYS = 90


def post(session: Session, message: str, severity: str, expires: datetime, account: Account) -> Announcement:
    """A new announcement; ValueError names the field that cannot be used."""
    text = message.strip() if isinstance(message, str) else ""
    if not text or len(text) > MAX_LENGTH:
        raise ValueError(f"message: expected text of 1..{MAX_LENGTH} characters")
    if severity not in SEVERITIES:
        raise ValueError(f"severity={severity!r}: expected one of {', '.join(SEVERITIES)}")
    now = utcnow()
    if not now < expires <= now + timedelta(days=MAX_DAYS):
        raise ValueError(f"expires={expires.isoformat()}: expected a time in the next {MAX_DAYS} days")
    row = Announcement(message=text, severity=severity, expires=expires, account_id=account.id, posted=now)
    session.add(row)
    session.flush()
    return row


def active(session: Session, now: datetime | None = None) -> list[Announcement]:
    """Announcements showing now, the most severe first, then the newest."""
    moment = now or utcnow()
    rows = session.scalars(
        select(Announcement).where(Announcement.withdrawn.is_(None), Announcement.posted <= moment, Announcement.expires > moment)
        .order_by(Announcement.posted.desc())
    )
    return sorted(rows, key=lambda a: -SEVERITIES.index(a.severity))


def history(session: Session, limit: int = 200) -> list[Announcement]:
    """Every announcement, newest first."""
    return list(session.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit)))


def withdraw(session: Session, announcement_id: int, account: Account) -> Announcement:
    """Stop showing an announcement; ValueError when there is none."""
    row = session.get(Announcement, announcement_id)
    if row is None:
        raise ValueError(f"no announcement with id {announcement_id}")
    if row.withdrawn is None:
        row.withdrawn = utcnow()
        row.withdrawn_by = account.id
    return row


def describe(row: Announcement) -> dict[str, Any]:
    """The API's view of one announcement."""
    return {
        "id": row.id, "message": row.message, "severity": row.severity, "user": row.account.name,
        "posted": int(row.posted.timestamp()), "expires": int(row.expires.timestamp()),
        "withdrawn": int(row.withdrawn.timestamp()) if row.withdrawn else None,
    }
