"""The ECS tasks' tests: a pair of PostgreSQL clusters per module (``source``/``target``) for pg_dump_restore;
test_redis_restore.py takes Redis servers under the same names (tests/helpers.py)."""

from __future__ import annotations

from helpers import pg_servers, pg_source, pg_target, pgh  # noqa: F401 (fixtures)
