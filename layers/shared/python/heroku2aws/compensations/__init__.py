"""Compensations: one per ledger kind, each undoing what one stage may have created or changed.

The ledger is written *ahead* of each stage (what the stage may create is recorded before it is
created), so every compensation must accept that its resource may not exist, may exist only in
part, or may already be half deleted. Each one takes ``(entry, cfg, progress)`` — the ledger entry as
its model (:mod:`heroku2aws.contracts.ledger`), the execution input as JSON, the pass's
:class:`~.progress.Progress` — and:

- is idempotent: a second run finds nothing left to do and reports nothing (``progress.did`` is
  called only for what it changes, or for what it had to leave to a person);
- is safe when its resource is absent (zone, record, app, secret, service, schema, server);
- calls ``progress.wait(...)`` when something is still in progress (a DMS instance takes minutes to
  delete), so the state machine calls again after a Wait.

:mod:`heroku2aws.steps.rollback` runs them newest first. ``tests/contracts/test_asl_contract.py`` fails when the
ASL records a kind that has no compensation here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config_secret import undo_config_secret, undo_secret_switch, undo_source_secrets
from .dms import undo_dms
from .dns import undo_dns
from .ecs import undo_ecs_services, undo_services_paused
from .heroku import undo_heroku_formation, undo_heroku_maintenance
from .image import undo_app_image
from .progress import Progress
from .scheduler import undo_scheduled_jobs
from .source_freeze import undo_source_read_only
from .stores import undo_target_database, undo_target_redis

__all__ = ["COMPENSATIONS", "Compensation", "Progress"]

Compensation = Callable[[Any, dict[str, Any], Progress], None]

#: Ledger kind -> its compensation.
COMPENSATIONS: dict[str, Compensation] = {
    "app-image": undo_app_image,
    "config-secret": undo_config_secret,
    "ecs-services": undo_ecs_services,
    "dms": undo_dms,
    "target-database": undo_target_database,
    "dns": undo_dns,
    "heroku-maintenance": undo_heroku_maintenance,
    "heroku-formation": undo_heroku_formation,
    "aws-services-paused": undo_services_paused,
    "target-redis": undo_target_redis,
    "secret-switch": undo_secret_switch,
    "source-read-only": undo_source_read_only,
    "source-secrets": undo_source_secrets,
    "scheduled-jobs": undo_scheduled_jobs,
}
