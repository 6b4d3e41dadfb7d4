"""Throw-away PostgreSQL clusters for the Postgres tests: each test module gets its own pair (``source`` plays
Heroku Postgres, ``target`` RDS) and the ``pgh`` helpers (tests/helpers.py)."""

from __future__ import annotations

from helpers import pg_servers, pg_source, pg_target, pgh  # noqa: F401 (fixtures)
