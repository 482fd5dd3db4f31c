"""Typed records shared by every path: the merged job, its errors, and rejections.

The stream, the Spark replay and the offline commands all produce these same records
from the same merge code, so their outputs can be compared field for field.
"""

from __future__ import annotations

import msgspec

from fwjr.metrics import ALL_METRICS

# The scope of an aggregate row, in primary-key order (dimension-first, see docs/architecture.md).
SCOPE_KEYS: tuple[str, ...] = (
    "workflow",
    "task",
    "site",
    "host",
    "jobtype",
    "jobstate",
    "exit_code",
    "exit_step",
    "acquisition_era",
    "campaign",
)

# The keys of the global error view: one row per (bucket, workflow, task, step, site, exit_code,
# retry_count, signature), so failures can be read per retry and per kind of message.
ERROR_KEYS: tuple[str, ...] = ("workflow", "task", "step", "site", "exit_code", "retry_count", "signature")

# Value columns of an aggregate row besides the per-metric sums and counts.
COUNT_COLUMNS: tuple[str, ...] = ("jobs", "failed", "eff_outliers")

METRIC_COLUMNS: tuple[str, ...] = tuple(
    col for m in ALL_METRICS for col in (f"{m.name}_sum", f"{m.name}_count")
)


class StepError(msgspec.Struct, frozen=True):
    """One error of one step; every step's errors are kept, not only the first.

    `signature` names the kind of failure (fwjr.signature); `details` is the message as the
    agent wrote it, cut in its middle when longer than the merge keeps (the cut is marked).
    """

    step: str
    exit_code: int
    type: str
    details: str
    signature: str


class Job(msgspec.Struct, kw_only=True):
    """One merged job: the outcome of one FWJR, after the rules in docs/merge.md."""

    identity: str
    ts: int
    workflow: str
    task: str
    site: str
    host: str
    jobtype: str
    jobstate: str
    exit_code: int
    exit_step: str
    acquisition_era: str
    campaign: str
    wn_name: str
    fwjr_id: str
    agent_ver: str
    retry_count: int
    failed: bool
    metrics: dict[str, float]
    cpu_efficiency: float | None
    efficiency_outlier: bool
    errors: list[StepError]
    log_archive: str

    def scope(self) -> tuple:
        """The aggregate scope of this job, in SCOPE_KEYS order."""
        return (
            self.workflow,
            self.task,
            self.site,
            self.host,
            self.jobtype,
            self.jobstate,
            self.exit_code,
            self.exit_step,
            self.acquisition_era,
            self.campaign,
        )


class Rejection(msgspec.Struct, kw_only=True):
    """Why a document could not be understood: the field, the value and where it came from."""

    reason: str
    field: str
    value: str
    source: str

    def message(self) -> str:
        """One line for logs, stderr and the dead-letter topic."""
        return f"{self.source}: {self.reason} (field {self.field!r}, value {self.value})"

    def label(self) -> str:
        """A low-cardinality reason for counters and dlq_counts: the reason text up to its details."""
        return self.reason.split(":", 1)[0].split("(", 1)[0].strip() or "unknown"

    def dlq_headers(self) -> list[tuple[str, bytes]]:
        """The headers of the rejected message's copy on fwjr.dlq, whichever process rejects it."""
        return [("reason", self.reason.encode()), ("field", self.field.encode()), ("source", self.source.encode())]
