"""Storage: the store protocol core codes against, and its SQLAlchemy implementation.

:mod:`.protocol` is what the engine, jobs and quotas see (``Store`` and its records); it imports
no database library. The implementation for SQLite and PostgreSQL: engines in :mod:`.db`, the
schema in :mod:`.tables`, the store in :mod:`.sql_store`, Alembic migrations in :mod:`.migrate`.

Typical wiring (in ``bots/``)::

    engine = create_engine(settings.database_url)
    await upgrade_engine(engine)
    store = SqlStore(create_sessionmaker(engine))
    ...
    await engine.dispose()
"""
