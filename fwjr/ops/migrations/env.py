"""Alembic environment for the operational database.

Run through fwjr.ops.migrate (`fwjr ops migrate`), which passes the URL in the config's
attributes, so the URL is never parsed as an ini value (a password may hold `%`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from fwjr.ops.models import Base

config = context.config
url = config.attributes["url"]

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()
