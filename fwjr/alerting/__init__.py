"""Service status, outage windows, failure correlation and alerts on error-rate spikes.

The rule (rule, baseline), the status events and outage book (status), the correlation's
arithmetic (correlate), the checkpoints (checkpoint), the topic folds (fold) and the rehearsal
(simulate) are pure: the process lives in streams/alerter.py, so the same engine runs in the
alerter, in the tests and in the benchmark, and a rehearsal produced in seconds decides exactly
what the live run would. What talks to the outside is in its own modules: the receivers
(receivers: webhook and SMTP; alertmanager: its v2 API) and the status poller (poller: HTTP).
Kafka is reached through fwjr.kafka, never from here; the store only by correlate's two entry
points for the board and the CLI (correlate_store, services_for_job), through fwjr.store.
"""
