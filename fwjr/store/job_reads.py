"""Reads of the failed-job rows (`jobs`): one job, the failed-jobs search, a job's time window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fwjr.model import SCOPE_KEYS
from fwjr.store.connection import Store
from fwjr.store.schema import JOB_COLUMNS
from fwjr.store.sql import filter_sql, range_params

JOB_SELECT = ", ".join("toUnixTimestamp(ts)" if c == "ts" else c for c in JOB_COLUMNS)


def job(store: Store, identity: str) -> dict[str, Any] | None:
    """One job by identity (while it is within the jobs retention), or None."""
    sql = f"SELECT {JOB_SELECT} FROM jobs WHERE identity = {{identity:String}} ORDER BY ts DESC LIMIT 1"
    rows = store.rows(sql, {"identity": identity})
    return dict(zip(JOB_COLUMNS, rows[0])) if rows else None


JOB_TEXT_COLUMNS: tuple[str, ...] = (
    "workflow", "task", "site", "host", "toString(exit_code)", "error_type", "error_details", "identity", "fwjr_id", "wn_name",
)
JOB_TEXT = "concat(" + ", ' ', ".join(JOB_TEXT_COLUMNS) + ")"


def job_text_sql(text: str) -> str:
    """SQL true when a job's text (the columns of JOB_TEXT joined by spaces) contains `{text:String}`,
    case-insensitively.

    A text without a space cannot match across the space between two columns, so it is looked
    for in each column (cheaper than a row-wide concatenation); a text with a space
    may span two columns and is looked for in the joined text.
    """
    if " " in text:
        return f"positionCaseInsensitiveUTF8({JOB_TEXT}, {{text:String}}) > 0"
    return "(" + " OR ".join(f"positionCaseInsensitiveUTF8({c}, {{text:String}}) > 0" for c in JOB_TEXT_COLUMNS) + ")"


def search_failed_jobs(
    store: Store,
    start: int,
    end: int,
    text: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest failed jobs, each once, whose text (as `recent_jobs`, plus fwjr_id and worker
    node) contains `text`, case-insensitively: one search box finds a job by any id an operator holds.

    A text that is exactly some failed jobs' fwjr_id or identity (wmaid) finds those jobs only,
    at any age the jobs table keeps, even outside the range: an operator who pastes an id wants
    that job (its row tells when it ran), not the jobs of the range whose ids contain it. The
    jobs table's bloom filter on the two ids (sql/0017) finds it in one granule per part. Any
    other text is searched as a substring, in the range, in one pass ordered like the table's key
    (hour of ts first), so the engine reads newest hours first and stops at `limit` jobs; a
    two-step search (newest identities, then their whole rows by key) cost 1.5-4x as much.
    """
    params: dict[str, Any] = range_params(start, end)
    params["limit"] = int(limit)
    where = filter_sql(filters, SCOPE_KEYS, params)
    in_range = "ts >= toDateTime({start:Int64}, 'UTC') AND ts < toDateTime({end:Int64}, 'UTC')"
    newest_each = "ORDER BY toStartOfHour(ts) DESC, ts DESC, identity LIMIT 1 BY identity LIMIT {limit:UInt32}"
    if text:
        params["text"] = text
        exact = (
            f"SELECT {JOB_SELECT} FROM jobs WHERE failed = 1{where} "
            f"AND (fwjr_id = {{text:String}} OR identity = {{text:String}}) {newest_each}"
        )
        found = store.rows(exact, params)
        if found:
            return [dict(zip(JOB_COLUMNS, row)) for row in found]
        where += f" AND {job_text_sql(text)}"
    sql = f"SELECT {JOB_SELECT} FROM jobs WHERE {in_range} AND failed = 1{where} {newest_each}"
    return [dict(zip(JOB_COLUMNS, row)) for row in store.rows(sql, params)]


def job_window(store: Store, identity: str) -> tuple[int, int] | None:
    """(start, end) epoch seconds of a stored job: its report time minus its wall time, to its report time."""
    sql = "SELECT toUnixTimestamp(ts), wall_time FROM jobs WHERE identity = {identity:String} LIMIT 1"
    rows = store.rows(sql, {"identity": identity})
    if not rows:
        return None
    ts, wall = rows[0]
    return int(ts - max(wall or 0.0, 0.0)), int(ts)
