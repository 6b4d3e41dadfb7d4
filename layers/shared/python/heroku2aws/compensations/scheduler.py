"""``scheduled-jobs``: delete the EventBridge Scheduler schedules the workflow made of Heroku Scheduler's jobs.

The ledger names them (``h2a-<app>.<job>`` in the default group), recorded before they are created; one that does
not exist (never created, or deleted already) is the answer wanted (DeleteSchedule's ResourceNotFoundException).
Their task definition ``<app>-scheduler`` is the ``ecs-services`` compensation's (the app's families).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..clients.aws import client, error_code
from ..contracts.ledger import ScheduledJobs
from .progress import Progress

GROUP = "default"


def undo_scheduled_jobs(item: ScheduledJobs, cfg: dict[str, Any], progress: Progress) -> None:
    scheduler = client("scheduler")
    for name in item.names:
        try:
            scheduler.delete_schedule(Name=name, GroupName=GROUP)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue
            raise
        progress.did(f"deleted schedule {name}")
