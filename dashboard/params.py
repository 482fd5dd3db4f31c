"""Every /api/v1 query parameter checked before its handler runs, from one table (`endpoints()`).

Each endpoint (by its Flask endpoint name) declares the parameters it takes, each of one kind
(Text, Choice, Int, Number, Time, Codes, Filter), and whether it takes a time range (tf, from,
to) and which filter keys. `check_request` runs before every /api/v1 request and answers
400 {"error": "..."} naming the parameter and its value for:

- a parameter the endpoint does not take (with the nearest one it does: `stie` -> `site`),
  or one given twice;
- a value longer than MAX_CHARS, holding a control character (NUL and the like; tab and line
  breaks are let through), or whose percent-escapes are not UTF-8 (`%FF`);
- a value of the wrong kind or out of range: a time that is neither epoch seconds nor ISO-8601
  or lies outside what the store's DateTime holds, an unknown preset, precision, metric, key
  or format, a page/limit/offset that is not a whole number in its range, an exit code that
  is not an Int32, a `~regex` that re2 (ClickHouse's dialect) does not compile;
- a combination that cannot be answered: from without to, from >= to, tf=custom alone, a
  statistic the metric lacks, the same key twice among an error matrix's axes.

Handlers then read the parsed values with `current()`; nothing a handler hands to the fwjr.store reads
can make the store fail on input. A failure past this point is the store's or the code's:
`internal_error` answers it with a short 500 and a reference, the detail goes to the log.
tests/browser/test_api_params.py sends malformed values to every parameter of every /api/v1 route
of the Flask url_map, so a route without an entry here fails that test.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, g, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from dashboard import context, timeframe, units
from dashboard.actions_api import ACTED, DEFAULT_DAYS, MAX_DAYS
from dashboard.state import EXIT_CODE_RANGE, NUMERIC_KEYS, filter_value, parse_view
from fwjr import exit_codes
from fwjr.bucket import PRECISIONS
from fwjr.model import ERROR_KEYS, SCOPE_KEYS

log = logging.getLogger("fwjr.board.api")
PREFIX = "/api/v1/"
MAX_CHARS = 2048  # any one value; CMS task paths run to a few hundred characters
MAX_LIMIT = 10_000
MAX_PAGE = 100_000
MAX_CODES = 200
MAX_ALERT_HOURS = 24 * 365
SHOWN_CHARS = 80  # a longer value is quoted by its start and length
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHOLE = re.compile(r"[+-]?[0-9]{1,30}")


class ParamError(ValueError):
    """A request parameter that cannot be used; the message names it and its value."""


def shown(name: str, value: str) -> str:
    """`name='value'` as messages quote it; a long value by its start and its length."""
    if len(value) <= SHOWN_CHARS:
        return f"{name}={value!r}"
    return f"{name}={value[:SHOWN_CHARS - 20]!r}… ({len(value)} characters)"


# ---------------------------------------------------------------- kinds of value


@dataclass(frozen=True)
class Kind:
    """How one parameter's text becomes a value. `example` is a valid text (tests, docs)."""

    default: Any = None
    example: str = "x"
    help: str = ""

    def parse(self, name: str, raw: str) -> Any:
        return raw

    def accepts_empty(self) -> bool:
        """Whether `name=` means something; otherwise an empty value is as if not given."""
        return False

    def describe(self) -> str:
        return self.help or "text"


@dataclass(frozen=True)
class Text(Kind):
    """Free text (searched or compared as data, never as SQL)."""


@dataclass(frozen=True)
class Choice(Kind):
    """One of fixed words; "" is one of them only when listed."""

    options: tuple[str, ...] = ()

    def parse(self, name: str, raw: str) -> str:
        if raw not in self.options:
            listed = ", ".join(repr(o) if o == "" else o for o in self.options)
            raise ParamError(f"{shown(name, raw)}: expected one of {listed}")
        return raw

    def accepts_empty(self) -> bool:
        return "" in self.options

    def describe(self) -> str:
        return self.help or "one of " + ", ".join(o or "(empty)" for o in self.options)


@dataclass(frozen=True)
class Int(Kind):
    """A whole number (decimal digits, optional sign) in [low, high]."""

    low: int = 0
    high: int = MAX_LIMIT

    def parse(self, name: str, raw: str) -> int:
        text = raw.strip()
        if not _WHOLE.fullmatch(text):
            raise ParamError(f"{shown(name, raw)}: expected a whole number from {self.low} to {self.high}")
        value = int(text)
        if not self.low <= value <= self.high:
            raise ParamError(f"{name}={value}: expected {self.low}..{self.high}")
        return value

    def describe(self) -> str:
        return self.help or f"whole number {self.low}..{self.high}"


@dataclass(frozen=True)
class Number(Kind):
    """A finite number in (above, high]."""

    above: float = 0.0
    high: float = float(MAX_ALERT_HOURS)

    def parse(self, name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ParamError(f"{shown(name, raw)}: expected a number") from None
        if not math.isfinite(value) or not self.above < value <= self.high:
            raise ParamError(f"{shown(name, raw)}: expected more than {self.above:g} and at most {self.high:g}")
        return value

    def describe(self) -> str:
        return self.help or f"number > {self.above:g}, <= {self.high:g}"


@dataclass(frozen=True)
class Time(Kind):
    """Epoch seconds or ISO-8601 (naive = UTC), within what the store holds."""

    def parse(self, name: str, raw: str) -> int:
        return timeframe.parse_time(raw, name)

    def describe(self) -> str:
        return "epoch seconds or ISO-8601"


@dataclass(frozen=True)
class Codes(Kind):
    """Comma-separated exit codes, at most MAX_CODES: Int32 numbers, or the dictionary's named codes (WMCORE-10)."""

    def parse(self, name: str, raw: str) -> list[int | str]:
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if len(parts) > MAX_CODES:
            raise ParamError(f"{shown(name, raw)}: {len(parts)} codes, at most {MAX_CODES}")
        low, high = EXIT_CODE_RANGE
        codes: list[int | str] = []
        for part in parts:
            if _WHOLE.fullmatch(part) and low <= int(part) <= high:
                codes.append(int(part))
            elif part in exit_codes.dictionary():
                codes.append(part)
            else:
                raise ParamError(f"{shown(name, part)}: expected a whole number from {low} to {high}, or a named code such as WMCORE-10")
        return codes

    def describe(self) -> str:
        return "exit codes, comma-separated"


@dataclass(frozen=True)
class Filter(Kind):
    """A filter on `key`: an exact value, or `~` and an re2 regular expression."""

    key: str = ""

    def parse(self, name: str, raw: str) -> Any:
        if not raw.strip():
            return None
        try:
            return filter_value(self.key, raw)
        except ValueError as error:
            raise ParamError(str(error)) from None

    def describe(self) -> str:
        return "exact value, or ~re2 regular expression"


@dataclass(frozen=True)
class Converted(Kind):
    """A path variable Flask's converter already checked (e.g. <int:...>)."""


# ---------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Parsed:
    """One request's parameters: values (given, or their kind's default), range, filters."""

    values: dict[str, Any]
    given: dict[str, str]
    range: tuple[int, int] | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None  # the preset the range is of; None for from/to (or no range)

    def __getitem__(self, name: str) -> Any:
        return self.values.get(name)


@dataclass(frozen=True)
class Endpoint:
    """What one endpoint takes. `range` is its default preset when it takes tf/from/to."""

    params: Mapping[str, Kind] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    range: str | None = None
    filters: Sequence[str] = ()
    path: Mapping[str, Kind] = field(default_factory=dict)
    check: Callable[[Parsed], None] | None = None

    def kinds(self) -> dict[str, Kind]:
        """Every query parameter it takes, by name."""
        out = dict(self.params)
        if self.range is not None:
            out.update(RANGE_KINDS)
        out.update({key: Filter(key=key, example="0" if key in NUMERIC_KEYS else "x") for key in self.filters})
        return out


PRESET_NAMES: tuple[str, ...] = tuple(timeframe.PRESETS) + tuple(timeframe.WINDOWS)
RANGE_KINDS: dict[str, Kind] = {
    "tf": Choice(options=PRESET_NAMES, example="24h"),
    "from": Time(example="2026-11-20T00:00:00Z"),
    "to": Time(example="2026-11-21T00:00:00Z"),
}


def _limit(default: int, high: int) -> Int:
    return Int(default=default, low=1, high=high, example=str(default))


def _check_view(parsed: Parsed) -> None:
    """The explorer's combinations (a statistic the metric has, by other than x)."""
    from dashboard.performance import check_view

    check_view(parse_view(parsed.given))


def _check_matrix(parsed: Parsed) -> None:
    keys = [parsed["rows"], parsed["columns"]] + ([parsed["split"]] if parsed["split"] else [])
    if len(set(keys)) != len(keys):
        named = ", ".join(f"{n}={parsed[n]!r}" for n in ("rows", "columns", "split") if parsed[n])
        raise ParamError(f"{named}: rows, columns and split must be different keys")


def _check_replay(parsed: Parsed) -> None:
    if parsed["start"] is not None and parsed["end"] is not None and parsed["end"] <= parsed["start"]:
        raise ParamError(f"start={parsed['start']} is not before end={parsed['end']}")


def _endpoints() -> dict[str, Endpoint]:
    from dashboard.performance import AXES

    measures = tuple(m["id"] for m in units.measures())
    return {
        "api.health": Endpoint(),
        "api.metrics": Endpoint(),
        "api.axes": Endpoint(),
        "api.aggregates": Endpoint(
            params={"precision": Choice(options=PRECISIONS, default="hour", example="hour"),
                    "format": Choice(options=("rows", "compact"), default="rows", example="compact")},
            range="last7d", filters=SCOPE_KEYS,
        ),
        "api.error_rows": Endpoint(
            params={"precision": Choice(options=PRECISIONS, default="hour", example="hour")}, range="last7d",
        ),
        "api.totals": Endpoint(range="last7d", filters=SCOPE_KEYS),
        "api.performance_view": Endpoint(
            params={"metric": Choice(options=measures, default="jobs", example="TotalJobCPU"),
                    "stat": Choice(options=("sum", "avg"), example="sum"),
                    "x": Choice(options=AXES, default="site", example="time"),
                    "by": Choice(options=("",) + SCOPE_KEYS, default="jobstate", example="jobtype"),
                    "page": Int(default=0, low=0, high=MAX_PAGE, example="1")},
            range="last7d", filters=SCOPE_KEYS, check=_check_view,
        ),
        "api.suggestions": Endpoint(
            params={"key": Choice(options=SCOPE_KEYS + tuple(k for k in ERROR_KEYS if k not in SCOPE_KEYS), example="site"),
                    "prefix": Text(default="", example="T2_"),
                    "limit": _limit(50, 1000)},
            required=("key",), range="last30d",
        ),
        "api.exit_code_descriptions": Endpoint(params={"code": Codes(example="8021,50664")}),
        "api.errors": Endpoint(
            params={"rows": Choice(options=ERROR_KEYS, default="workflow", example="workflow"),
                    "columns": Choice(options=ERROR_KEYS, default="site", example="site"),
                    "split": Choice(options=("",) + ERROR_KEYS, example="exit_code"),
                    "limit": _limit(1000, MAX_LIMIT)},
            range="24h", filters=ERROR_KEYS, check=_check_matrix,
        ),
        "api.failed_jobs": Endpoint(
            params={"q": Text(example="hostile-fwjr-1"), "limit": _limit(100, 1000)}, range="24h", filters=SCOPE_KEYS,
        ),
        "alerts_api.alerts": Endpoint(params={"hours": Number(default=24.0, above=0.0, high=float(MAX_ALERT_HOURS), example="24")}),
        "alerts_api.outages": Endpoint(params={"service": Text(example="EOS")}, range="last7d"),
        "alerts_api.correlation": Endpoint(range="last7d", filters=SCOPE_KEYS),
        "alerts_api.job_services": Endpoint(path={"identity": Text(example="hostile-job-1")}),
        "triage_api.decisions": Endpoint(range="24h", filters=SCOPE_KEYS),
        "triage_api.sites": Endpoint(range="24h", filters=SCOPE_KEYS),
        "replay_api.load": Endpoint(
            params={"start": Int(low=timeframe.TIME_MIN, high=timeframe.TIME_MAX, example="0"),
                    "end": Int(low=timeframe.TIME_MIN, high=timeframe.TIME_MAX, example="60"),
                    "batch": Text(example="replay-params-test")},
            required=("start", "end", "batch"), check=_check_replay,
        ),
        "actions_api.listing": Endpoint(
            params={"days": Int(default=DEFAULT_DAYS, low=1, high=MAX_DAYS, example="1"),
                    "acted": Choice(options=tuple(ACTED), default="0", example="-1")},
        ),
        "actions_api.submit": Endpoint(),
        "actions_api.report": Endpoint(),
        "announcements_api.listing": Endpoint(params={"all": Choice(options=("0", "1"), default="0", example="1")}),
        "announcements_api.post": Endpoint(),
        "announcements_api.withdraw": Endpoint(path={"announcement_id": Converted()}),
    }


_TABLE: dict[str, Endpoint] = {}


def endpoints() -> dict[str, Endpoint]:
    """Flask endpoint name -> what it takes (built on first use: the measures come from units)."""
    if not _TABLE:
        _TABLE.update(_endpoints())
    return _TABLE


# ---------------------------------------------------------------- parsing


def check_text(name: str, value: str) -> None:
    """The checks every value (and path variable) passes: length, control characters."""
    if len(value) > MAX_CHARS:
        raise ParamError(f"{shown(name, value)}: too long, at most {MAX_CHARS} characters")
    found = _CONTROL.search(value)
    if found:
        raise ParamError(f"{shown(name, value)}: holds the control character U+{ord(found.group()):04X} at position {found.start()}")


def check_utf8(query_string: bytes) -> None:
    """Refuse percent-escapes that are not UTF-8: werkzeug would hand them on as the text "%FF"."""
    for piece in query_string.split(b"&"):
        name, _, value = piece.partition(b"=")
        try:
            unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            label = unquote_to_bytes(name).decode("utf-8", errors="replace")[:SHOWN_CHARS]
            raise ParamError(f"{shown(label, value.decode('ascii', errors='replace'))}: not valid UTF-8 once its %-escapes are decoded") from None


def parse(endpoint: Endpoint, args: MultiDict[str, str], view_args: Mapping[str, Any], now: int, where: str = "",
          query_string: bytes = b"") -> Parsed:
    """The request's parameters, checked and parsed; ParamError names the first bad one."""
    check_utf8(query_string)
    kinds = endpoint.kinds()
    given: dict[str, str] = {}
    for name, values in args.lists():
        if name not in kinds:
            raise ParamError(_unknown(name, values[0], kinds, where))
        if len(values) > 1:
            quoted = ", ".join(repr(v[:SHOWN_CHARS]) for v in values[:3])
            raise ParamError(f"{name} is given {len(values)} times ({quoted}); give it once")
        check_text(name, values[0])
        given[name] = values[0]
    for name, value in view_args.items():
        kind = endpoint.path.get(name, Text())
        if isinstance(value, str):
            check_text(name, value)
            kind.parse(name, value)
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        raw = given.get(name)
        if raw is None or (raw.strip() == "" and not kind.accepts_empty()):
            if kind.default is not None:
                values[name] = kind.default
            continue
        parsed = kind.parse(name, raw)
        if parsed is not None:
            values[name] = parsed
    for name in endpoint.required:
        if name not in values:
            raise ParamError(f"{name} is required ({kinds[name].describe()}); takes: {', '.join(kinds)}")
    span = _range(values, given, endpoint.range, now) if endpoint.range is not None else None
    preset = values.get("tf") or endpoint.range if span is not None and values.get("from") is None else None
    filters = {key: values[key] for key in endpoint.filters if key in values}
    result = Parsed(values=values, given=given, range=span, filters=filters, preset=preset)
    if endpoint.check is not None:
        try:
            endpoint.check(result)
        except ParamError:
            raise
        except ValueError as error:
            raise ParamError(str(error)) from None
    return result


def _range(values: Mapping[str, Any], given: Mapping[str, str], default: str, now: int) -> tuple[int, int]:
    start, end = values.get("from"), values.get("to")
    if (start is None) != (end is None):
        have, lack = ("from", "to") if start is not None else ("to", "from")
        raise ParamError(f"{shown(have, given[have])} needs {lack} too: a custom range takes both (or name a preset with tf)")
    if start is not None and end is not None:
        if end <= start:
            raise ParamError(f"{shown('from', given['from'])} is not before {shown('to', given['to'])}")
        return start, end
    preset = values.get("tf") or default
    if preset == "custom":
        raise ParamError("tf='custom' needs from and to")
    return timeframe.preset_range(preset, now)


def _unknown(name: str, value: str, kinds: Mapping[str, Kind], where: str) -> str:
    near = difflib.get_close_matches(name, list(kinds), n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else ""
    takes = ", ".join(kinds) if kinds else "no query parameters"
    return f"unknown parameter {shown(name[:SHOWN_CHARS], value)}{hint}; {where or 'this endpoint'} takes {takes}"


# ---------------------------------------------------------------- Flask


def check_request() -> tuple[Response, int] | None:
    """before_request: refuse a bad /api/v1 request with 400 before its handler (and the store) sees it."""
    if not request.path.startswith(PREFIX) or request.url_rule is None or request.endpoint is None:
        return None
    endpoint = endpoints().get(request.endpoint)
    if endpoint is None:
        log.warning("API %s (%s) declares no parameters in dashboard/params.py: not checked", request.path, request.endpoint)
        return None
    try:
        g.api_params = parse(endpoint, request.args, request.view_args or {}, context.now(), request.url_rule.rule, request.query_string)
    except ValueError as error:
        return jsonify({"error": str(error)}), 400
    return None


def current() -> Parsed:
    """The current request's checked parameters (parsed here if the hook did not run)."""
    parsed = g.get("api_params")
    if parsed is None:
        rule = request.url_rule.rule if request.url_rule is not None else request.path
        parsed = parse(endpoints()[str(request.endpoint)], request.args, request.view_args or {}, context.now(), rule, request.query_string)
        g.api_params = parsed
    return parsed


def internal_error(error: Exception) -> tuple[Response, int] | HTTPException:
    """A failure past validation (the store's, or a bug): 500 with a reference, the detail in the log only.

    The engine's text (query fragments, its version, links) stays out of the answer.
    """
    if isinstance(error, HTTPException):
        return error
    reference = uuid.uuid4().hex[:8]
    log.error("API %s %s failed (ref %s): %s: %s", request.method, request.full_path, reference, type(error).__name__, error, exc_info=error)
    return jsonify({"error": f"internal error (ref {reference}): the request could not be answered; the board's log has the details"}), 500


def install(server: Flask) -> None:
    """Run `check_request` before every request of the server (it passes over non-API paths)."""
    server.before_request(check_request)
