"""Alembic migrations of the audit store, shipped inside the package.

:func:`accord.store.migrate.upgrade` runs them; ``script_location`` points at this folder, so
they work from an installed wheel as well as from the repository.
"""
