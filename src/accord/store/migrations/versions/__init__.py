"""Alembic revision files (Alembic skips ``__init__.py``; it is here so the folder ships as a package)."""
