"""How each measure reads to a human: times as h:mm:ss, sizes in byte units, shares in percent.

Units come from the metric table (fwjr.metrics); the counts and ratios the board adds
(jobs, failed, failure rate, CPU efficiency) are described here.
"""

from __future__ import annotations

import math

from fwjr.metrics import ALL_METRICS, BY_NAME
from fwjr.model import COUNT_COLUMNS

# Measures that are not metrics of the rule table: id -> (title, unit).
BOARD_MEASURES: dict[str, tuple[str, str]] = {
    "jobs": ("Jobs", ""),
    "failed": ("Failed jobs", ""),
    "eff_outliers": ("Jobs above 100% CPU efficiency", ""),
    "failure_rate": ("Failure rate", "ratio"),
    "cpu_efficiency": ("CPU efficiency (sum CPU / sum core time)", "ratio"),
}
ADDITIVE_UNITS = ("", "s", "h", "MB")
_BYTE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def measures() -> list[dict[str, str]]:
    """Every measure the explorer and API offer: id, title, unit, and which statistics apply."""
    out = [{"id": key, "title": title, "unit": unit, "stats": "sum"} for key, (title, unit) in BOARD_MEASURES.items()]
    for metric in ALL_METRICS:
        stats = "sum,avg" if metric.rule == "sum" else "avg"
        out.append({"id": metric.name, "title": metric.title, "unit": metric.unit, "stats": stats})
    return out


def unit_of(measure: str) -> str:
    """The unit a measure's values are in ("ratio" for 0..1 shares)."""
    if measure in BOARD_MEASURES:
        return BOARD_MEASURES[measure][1]
    if measure in BY_NAME:
        return BY_NAME[measure].unit
    raise ValueError(f"unknown measure {measure!r}")


def title_of(measure: str, stat: str = "sum") -> str:
    """A chart or card title: "Peak RSS (job-weighted mean, MB)"."""
    if measure in BOARD_MEASURES:
        return BOARD_MEASURES[measure][0]
    metric = BY_NAME.get(measure)
    if metric is None:
        raise ValueError(f"unknown measure {measure!r}")
    what = "job-weighted mean" if stat == "avg" else "total"
    return f"{metric.title} ({what}{', ' + metric.unit if metric.unit else ''})"


def default_stat(measure: str) -> str:
    """Totals for additive metrics and counts, job-weighted means for peaks, minima and rates."""
    if measure in BOARD_MEASURES or measure in COUNT_COLUMNS:
        return "sum"
    return "sum" if BY_NAME[measure].rule == "sum" else "avg"


def hms(seconds: float) -> str:
    """Seconds as h:mm:ss (hours grow past 24: durations, not clock times)."""
    total = int(round(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def byte_size(megabytes: float) -> str:
    """Megabytes (10^6 bytes, as CMSSW reports) in the largest fitting byte unit."""
    value = megabytes * 1e6
    for unit in _BYTE_UNITS:
        if abs(value) < 1000 or unit == _BYTE_UNITS[-1]:
            return f"{value:,.1f} {unit}" if unit != "B" else f"{value:,.0f} B"
        value /= 1000
    return f"{value:,.1f} PB"


def number(value: float) -> str:
    """A count or plain value with thousands separators, decimals only where they matter."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def format_value(measure: str, value: float | None) -> str:
    """One value of a measure as text, "–" when there is none."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "–"
    unit = unit_of(measure)
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "s":
        return hms(value)
    if unit == "ms":
        return f"{number(value)} ms"
    if unit in ("MB", "kB"):
        return byte_size(value / 1000 if unit == "kB" else value)
    if unit == "MB/s":
        return f"{byte_size(value)}/s"
    if unit == "h":
        return f"{number(value)} h"
    if unit:
        return f"{number(value)} {unit}"
    return number(value)


def axis_values(measure: str, value: float | None) -> float | None:
    """A value as plotted: ratios as percent, seconds as hours when large; others unchanged."""
    if value is None:
        return None
    return value * 100 if unit_of(measure) == "ratio" else value


def axis_suffix(measure: str) -> str:
    """The unit label of a chart axis, matching `axis_values`."""
    unit = unit_of(measure)
    return "%" if unit == "ratio" else unit
