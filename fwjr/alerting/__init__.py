"""Service status, outage windows, failure correlation and alerts on error-rate spikes.

Everything in this package is pure (no Kafka, no store): the stream wiring lives in
streams/alerting.py, so the same engine runs in the worker, in the tests and in the
benchmark, and a rehearsal produced in seconds decides exactly what the live run would.
"""
