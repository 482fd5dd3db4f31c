"""The ClickHouse store: the one place that reads and writes the tables (besides the DDL in sql/).

- connection: a ClickHouse server or embedded chDB behind one lock; who owns an embedded store
- schema: every table's columns, once; sql: filters, projections, the ladder as SQL
- reads, error_reads, job_reads: what the board, the API and the CLI read
- ledger: the exactly-once ledger's recovery reads and deletes (streams/checkpoint.py writes it)
- alerts: status events, outages, maintenance, alert history; evidence: what triage reads
- replace: a replay's atomic range replace; migrate: the DDL, applied in order
- client: reading or replacing from another process, directly or through the store's owner
"""
