"""The audit log: every write to the operational data, and every replay load, leaves one row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fwjr.ops.models import AuditEntry


def record(session: Session, actor: str, event: str, target: str = "", detail: dict[str, Any] | None = None,
           address: str | None = None) -> None:
    """Add an entry to the session's transaction, so it is kept exactly when the write is."""
    session.add(AuditEntry(actor=actor, event=event, target=target[:400], detail=detail or {}, address=address))


def recent(session: Session, limit: int = 100) -> list[AuditEntry]:
    """The newest entries, newest first."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
