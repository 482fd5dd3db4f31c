"""Topic names (docs/architecture.md), in one place."""

RAW = "fwjr.raw"
JOBS = "fwjr.jobs"
DLQ = "fwjr.dlq"
SERVICE_STATUS = "service.status"
ALERTS = "fwjr.alerts"

CONSUMER_GROUP = "fwjr-worker"
