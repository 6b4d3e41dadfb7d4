"""The sample Heroku app the rehearsal migrates: a Procfile (web, worker, release), its config vars, its data.

- ``web``: ``/health`` answers 200 only when it can query ``DATABASE_URL`` (a real SELECT on a seeded
  table) and ping ``REDIS_URL``; ``/`` is a short page. Listens on ``$PORT``.
- ``worker``: pops jobs (JSON) from the Redis list ``jobs`` and writes a row per job to ``jobs_done``.
- ``release``: checks the database is reachable and the schema is there; exit 0, else non-zero.
- :mod:`.seed`: the data (``seed_postgres``, ``seed_redis``), deterministic.

``CONFIG_VARS`` are the app's ordinary Heroku config vars (``DATABASE_URL`` / ``REDIS_URL`` come from
add-on attachments and are added by whoever runs the app). Two of them are fake secrets: the rehearsal
checks that no secret value ever reaches the state machine's payloads or history.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_VARS", "JOBS_KEY", "PROCESS_TYPES", "PROCFILE_PATH", "SECRET_CONFIG_VARS", "SLUG_DIR"]

PROCFILE_PATH: str = str(Path(__file__).with_name("Procfile"))

#: The app directory of the sample app's image (``/app`` of a buildpack image): holds the ``.profile.d`` script
#: the container's wrapper sources before each process, as Heroku does.
SLUG_DIR: str = str(Path(__file__).with_name("slug"))

#: The Procfile's process types, in file order.
PROCESS_TYPES = ("web", "worker", "release")

#: The Redis list the worker consumes.
JOBS_KEY = "jobs"

#: Config vars whose values are secrets (fake, but treated as real by the rehearsal's leak checks).
SECRET_CONFIG_VARS = ("SECRET_KEY_BASE", "STRIPE_API_KEY")

CONFIG_VARS: dict[str, str] = {
    "WEB_CONCURRENCY": "2",
    "LOG_LEVEL": "info",
    "APP_ENV": "production",
    "FEATURE_FLAGS": "new-checkout,fast-search",
    "MAX_UPLOAD_MB": "25",
    "SUPPORT_EMAIL": "support@example.com",
    "SECRET_KEY_BASE": "5f3c9a1e7b2d4086a9e1c3b5d7f90214e6a8c0b2d4f6081a3c5e7092b4d6f8a1c3e5079b2d4f6a8c0e2b4d6f809a1c3e5",
    "STRIPE_API_KEY": "sk_fake_rehearsal_9Qv2Lx7Tn4Rb8Kw1Zp6Hs3Jd",
}
