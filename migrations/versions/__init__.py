"""Revisions, oldest first; each one is frozen once released (never edit a shipped revision)."""
