"""Topic names (docs/architecture.md), in one place."""

RAW = "fwjr.raw"
JOBS = "fwjr.jobs"
DLQ = "fwjr.dlq"
SERVICE_STATUS = "service.status"
ALERTS = "fwjr.alerts"

CONSUMER_GROUP = "fwjr-worker"
ALERTER_STATE = "fwjr.alerter.state"

# The alerter (streams/alerter.py): the group whose one partition is the lease, the group its
# input offsets are reported under, and the transactional id that fences an older instance.
ALERTER_LEASE_GROUP = "fwjr-alerter"
ALERTER_INPUT_GROUP = "fwjr-alerter-input"
ALERTER_TRANSACTIONAL_ID = "fwjr-alerter"

# A fwjr.jobs record's header naming the fwjr.raw partition its FWJR came from (decimal text).
# Records of one raw partition all go to fwjr.jobs partition `raw % partitions`, in raw order,
# so the alerter sees each source's jobs in the order any worker processes them.
JOB_SOURCE_HEADER = "source-partition"
