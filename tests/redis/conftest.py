"""Redis servers for the copier's tests (each test starts its own; tests/helpers.py)."""

from __future__ import annotations

from helpers import redis_source, redis_target  # noqa: F401 (fixtures)
