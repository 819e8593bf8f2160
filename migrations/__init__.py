"""Alembic migrations of the editbot schema; ``editbot db upgrade`` runs them (core.storage.migrate)."""
