"""The stored tables' columns and groups, defined once: the core's row contracts (fwjr.aggregate)
plus the batch that wrote each row, and the alerting tables (sql/0010-0013).
"""

from __future__ import annotations

from fwjr.aggregate import ERROR_ROW_COLUMNS, ROW_COLUMNS

# The stored tables' columns: the core's row contracts (fwjr.aggregate) and the batch that wrote them.
AGG_COLUMNS: tuple[str, ...] = ROW_COLUMNS + ("batch",)
ERROR_COLUMNS: tuple[str, ...] = ERROR_ROW_COLUMNS + ("batch",)
DLQ_COLUMNS: tuple[str, ...] = ("bucket", "reason", "count", "batch")
EXAMPLE_COLUMNS: tuple[str, ...] = ("exit_code", "signature", "step", "type", "example", "seen")
JOB_COLUMNS: tuple[str, ...] = (
    "identity", "ts", "workflow", "task", "site", "host", "jobtype", "jobstate", "exit_code", "exit_step",
    "acquisition_era", "campaign", "wn_name", "fwjr_id", "agent_ver", "retry_count", "failed", "wall_time", "cpu_efficiency",
    "core_hours", "error_type", "error_details", "errors", "log_archive", "batch", "src_partition", "src_offset",
)

# Tables whose rows carry the batch that wrote them, those keyed by a time bucket, and all of them.
BATCH_TABLES: tuple[str, ...] = ("agg", "errors", "jobs", "dlq_counts")
BUCKETED_TABLES: tuple[str, ...] = ("agg", "errors", "dlq_counts")
TABLES: tuple[str, ...] = BATCH_TABLES + ("error_examples", "ingest_batches", "replace_journal", "schema_migrations")

# The alerting tables (sql/0010-0013).
SERVICE_EVENT_COLUMNS: tuple[str, ...] = ("service", "ts", "state", "message", "source")
OUTAGE_COLUMNS: tuple[str, ...] = ("service", "start_ts", "end_ts", "state", "message", "source", "version")
MAINTENANCE_COLUMNS: tuple[str, ...] = ("service", "start_ts", "end_ts", "message", "source", "announced")
ALERT_COLUMNS: tuple[str, ...] = (
    "id", "scope", "value", "state", "started", "fired", "resolved", "evidence", "members", "version",
)

# The tables a replay replaces, each with its staging table and columns.
REPLACED_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "agg": ("agg_replay_staging", AGG_COLUMNS),
    "errors": ("errors_replay_staging", ERROR_COLUMNS),
}
