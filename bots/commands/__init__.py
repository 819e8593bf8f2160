"""Subcommands of the ``editbot`` command, one module each."""
