"""Service status, outage windows, failure correlation and alerts on error-rate spikes.

Everything in this package is pure (no Kafka, no store) but the readers and publishers for the
CLI (read.py, publish.py): the process lives in streams/alerter.py, so the same engine runs in
the alerter, in the tests and in the benchmark, and a rehearsal produced in seconds decides
exactly what the live run would.
"""
