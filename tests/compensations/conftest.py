"""The compensations' tests: a hosted zone with the app's record, a frozen app on FakeHeroku (tests/helpers.py)."""

from __future__ import annotations

from helpers import frozen_heroku, heroku_cfg, plain_cname, zone  # noqa: F401 (fixtures)
