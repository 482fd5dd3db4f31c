"""SQL building blocks every read shares: the precision ladder as SQL, filters as bound
parameters, the time range, the projection hint, and the measures.

User input reaches SQL only as bound `{name:Type}` parameters; identifiers (columns, precisions,
tables) come from fixed whitelists built from fwjr.model, never from the caller's text.

Filters (every read taking `filters`): a mapping from a key to one of
  "T2_CH_CERN" / 8021           exact value
  ["T2_CH_CERN", "T1_US_FNAL"]  any of these values
  {"regex": "^T2_.*"}           re2 regular expression (ClickHouse `match`), on the text form
  {"prefix": "T2_"}             starts with
Keys: fwjr.model.SCOPE_KEYS for aggregates and jobs, fwjr.model.ERROR_KEYS for error counts.
Times are epoch seconds (UTC); ranges are half-open [start, end).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fwjr.aggregate import MICRO, VALUE_COLUMNS
from fwjr.bucket import STORED_PRECISIONS, bucket_start, check_precision, next_bucket
from fwjr.metrics import METRIC_NAMES
from fwjr.model import COUNT_COLUMNS

# How each precision re-buckets the stored `bucket` (DateTime('UTC')); weeks start on Monday.
BUCKET_SQL: dict[str, str] = {
    "minute": "toStartOfMinute(bucket)",
    "hour": "toStartOfHour(bucket)",
    "day": "toStartOfDay(bucket)",
    "week": "toDateTime(toMonday(bucket), 'UTC')",
    "month": "toDateTime(toStartOfMonth(bucket), 'UTC')",
}
# Precisions the TTL ladder stores, finest first, and the settings field holding each one's age.
LADDER_STEPS: tuple[tuple[str, str], ...] = (("minute", "minute_days"), ("hour", "hour_days"), ("day", "day_days"))

# Keys stored as integers: their filters bind Int32 values, and patterns match their text form.
NUMERIC_KEYS: frozenset[str] = frozenset({"exit_code", "retry_count"})
RANGE_SQL = "bucket >= toDateTime({start:Int64}, 'UTC') AND bucket < toDateTime({end:Int64}, 'UTC')"
DAY_SECONDS = 86400


def ladder(settings: Any) -> list[tuple[str, int | None]]:
    """The stored precisions (fwjr.bucket.STORED_PRECISIONS) with the age (seconds) up to which
    each is kept, from the settings; the coarsest is kept for good."""
    steps: list[tuple[str, int | None]] = [(p, getattr(settings, field) * DAY_SECONDS) for p, field in LADDER_STEPS]
    return steps + [(STORED_PRECISIONS[-1], None)]


def finest_precision(start: int, end: int, now: int, ladder: Sequence[tuple[str, int | None]]) -> str:
    """The finest precision that the whole range [start, end) still has, whatever merges ran.

    The oldest point decides: a bucket older than a step's age may already be rolled up.
    `ladder` is [(precision, max_age_seconds or None), ...], finest first (see `ladder`).
    """
    if end <= start:
        raise ValueError(f"empty time range: start {start} is not before end {end}")
    age = now - start
    for precision, max_age in ladder:
        if max_age is None or age <= max_age:
            return precision
    return ladder[-1][0]


def align(start: int, end: int, precision: str) -> tuple[int, int]:
    """The range widened to whole buckets of `precision`, so rolled-up rows are in or out entirely."""
    check_precision(precision)
    first = bucket_start(start, precision)
    last = bucket_start(end - 1, precision)
    return first, next_bucket(last, precision)


def filter_sql(filters: Mapping[str, Any] | None, allowed: Sequence[str], params: dict[str, Any], prefix: str = "f") -> str:
    """SQL conditions for `filters`, with each value added to `params` as a bound parameter."""
    clauses: list[str] = []
    for position, (key, wanted) in enumerate(sorted((filters or {}).items())):
        if key not in allowed:
            raise ValueError(f"unknown filter key {key!r}; expected one of {', '.join(allowed)}")
        name = f"{prefix}{position}"
        numeric = key in NUMERIC_KEYS
        text_column = f"toString({key})" if numeric else key
        if isinstance(wanted, Mapping):
            clauses.append(pattern_sql(key, text_column, wanted, name, params))
        elif isinstance(wanted, (list, tuple, set, frozenset)):
            values = sorted(wanted)
            params[name] = [filter_value(key, v) for v in values]
            clauses.append(f"{key} IN {{{name}:Array({'Int32' if numeric else 'String'})}}")
        else:
            params[name] = filter_value(key, wanted)
            clauses.append(f"{key} = {{{name}:{'Int32' if numeric else 'String'}}}")
    return "".join(f" AND {c}" for c in clauses)


def pattern_sql(key: str, column: str, wanted: Mapping[str, Any], name: str, params: dict[str, Any]) -> str:
    if len(wanted) != 1 or next(iter(wanted)) not in ("regex", "prefix"):
        raise ValueError(f"filter {key}={dict(wanted)!r}: expected {{'regex': ...}} or {{'prefix': ...}}")
    kind, value = next(iter(wanted.items()))
    params[name] = str(value)
    if kind == "regex":
        return f"match({column}, {{{name}:String}})"
    return f"startsWith({column}, {{{name}:String}})"


def filter_value(key: str, value: Any) -> Any:
    if key in NUMERIC_KEYS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"filter {key}={value!r}: expected a whole number") from None
    return str(value)


def range_params(start: int, end: int) -> dict[str, Any]:
    if end <= start:
        raise ValueError(f"empty time range: start {start} is not before end {end}")
    return {"start": int(start), "end": int(end)}


# The aggregating projections of `agg`: name, the scope keys it keeps, the value columns it sums.
# p_totals (sql/0015) keeps no key; p_site and p_code_workflow (sql/0018) keep the stored bucket and
# one or two keys, so any range and re-bucketing of them is exact.
AGG_PROJECTIONS: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("p_totals", frozenset(), frozenset(VALUE_COLUMNS)),
    ("p_site", frozenset({"site"}), frozenset(VALUE_COLUMNS)),
    (
        "p_code_workflow",
        frozenset({"exit_code", "workflow"}),
        frozenset({"jobs", "failed", "eff_outliers", "wasted_core_hours_sum", "wasted_core_hours_count"}),
    ),
)
_SUMMED = re.compile(r"\bsum\((\w+)\)")


def projection_setting(keys: Iterable[str], filters: Mapping[str, Any] | None = None, reads: Iterable[str] | str = VALUE_COLUMNS) -> str:
    """The SETTINGS clause ending an `agg` read that groups by `keys`, filters on `filters` and sums
    `reads` (value columns, or SQL text whose `sum(column)` terms name them).

    The engine weighs every projection it is allowed to at each query, at a cost that grows with the
    projection's aggregates (docs/store.md), so a read is pointed at the one
    projection that holds all it uses (`preferred_optimize_projection_name`) and told not to weigh
    any when none does. Answers are the same either way; a part without the projection is read from
    the table.
    """
    used = set(keys) | set(filters or {})
    needed = set(_SUMMED.findall(reads)) if isinstance(reads, str) else set(reads)
    for name, held_keys, held_values in AGG_PROJECTIONS:
        if used <= held_keys and needed <= held_values:
            return f" SETTINGS preferred_optimize_projection_name = '{name}'"
    return " SETTINGS optimize_use_projections = 0"


def metric_sql(measure: str) -> str:
    """The SQL of one orderable measure: a count column, a metric's total, or a ratio."""
    if measure in COUNT_COLUMNS:
        return f"sum({measure})"
    if measure in METRIC_NAMES:
        return f"sum({measure}_sum) / {MICRO}"
    if measure == "failure_rate":
        return "sum(failed) / greatest(sum(jobs), 1)"
    if measure == "cpu_efficiency":
        return "sum(cpu_hours_sum) / greatest(sum(core_hours_sum), 1)"
    choices = ", ".join(COUNT_COLUMNS + ("failure_rate", "cpu_efficiency") + METRIC_NAMES)
    raise ValueError(f"unknown measure {measure!r}; expected one of {choices}")


STATS: tuple[str, ...] = ("sum", "avg")
RATIO_MEASURES: tuple[str, ...] = ("failure_rate", "cpu_efficiency")


def measure_sql(measure: str, stat: str) -> tuple[str, str]:
    """(value SQL, covered-jobs SQL) of one measure: a count, a metric's total or job-weighted mean, a ratio.

    "covered" is how many jobs carry a value, so a card can say what its number stands on.
    """
    if stat not in STATS:
        raise ValueError(f"unknown statistic {stat!r}; expected one of {', '.join(STATS)}")
    if measure in COUNT_COLUMNS or measure in RATIO_MEASURES:
        return metric_sql(measure), "sum(jobs)"
    if measure in METRIC_NAMES:
        if stat == "avg":
            return f"sum({measure}_sum) / nullIf(sum({measure}_count), 0) / {MICRO}", f"sum({measure}_count)"
        return f"sum({measure}_sum) / {MICRO}", f"sum({measure}_count)"
    return metric_sql(measure), "sum(jobs)"
