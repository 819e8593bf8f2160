"""Storage on SQLAlchemy for SQLite and PostgreSQL.

Engines in :mod:`.db`, the schema in :mod:`.tables`, the store in :mod:`.sql_store`, Alembic
migrations in :mod:`.migrate`.

Typical wiring (in ``bots/``)::

    engine = create_engine(settings.database_url)
    await upgrade_engine(engine)
    store = SqlStore(create_sessionmaker(engine))
    ...
    await engine.dispose()
"""

from core.storage.db import create_engine, create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.sql_store import SqlStore

__all__ = ["SqlStore", "create_engine", "create_sessionmaker", "upgrade_engine"]
