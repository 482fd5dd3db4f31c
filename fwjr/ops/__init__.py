"""Operational data: accounts, roles, API tokens, operators' actions, announcements, the audit log.

Kept in a relational database (SQLite under FWJR_HOME by default, PostgreSQL in production,
one SQLAlchemy URL: FWJR_OPS_DATABASE_URL), not in the aggregate store: these are few rows
that are updated in place, need transactions and unique keys, and must survive a rebuild of
the aggregates. Migrations ship inside the package (fwjr/ops/migrations, Alembic).
"""
