"""The names and tags of what the migration creates, written once.

The ASL builds the same names in JSONata (``'h2a-' & $cfg.heroku.app``); the contract test
(``tests/contracts/test_asl_contract.py``) renders every name the ASL builds and fails when it is not one of
:func:`resource_names`.

- DMS: subnet group, replication instance and task are ``h2a-<app>``, the endpoints ``h2a-<app>-source`` and
  ``h2a-<app>-target`` (the app name's rule in ``contracts/input.py`` keeps them valid DMS identifiers);
- ECS: the task definition family and the service of a process type are ``<app>-<type>``;
- Secrets Manager: the app's config vars live in ``heroku2aws/<app>/config``;
- IAM: the roles the stack may pass to ECS are ``heroku2aws-<app>-*``;
- CloudWatch Logs: the containers' default log group is ``/heroku2aws/<app>/services``.

Tags: everything the workflow creates carries ``heroku2aws:app`` = app (what the rollback looks for),
``app``, ``heroku2aws:managed`` = ``true`` (created by the workflow, not by a person) and
``heroku2aws:execution`` (the execution that created it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

APP_TAG = "heroku2aws:app"
MANAGED_TAG = "heroku2aws:managed"
EXECUTION_TAG = "heroku2aws:execution"
#: A tag value holds at most 256 characters.
MAX_TAG_VALUE = 256

DmsEndpoint = Literal["source", "target"]


def dms_id(app: str) -> str:
    """The DMS subnet group, replication instance and replication task of ``app``."""
    return f"h2a-{app}"


def dms_endpoint_id(app: str, side: DmsEndpoint) -> str:
    return f"{dms_id(app)}-{side}"


def ecs_name(app: str, process_type: str) -> str:
    """The ECS task definition family and service of one process type."""
    return f"{app}-{process_type}"


def ecs_family_prefix(app: str) -> str:
    return ecs_name(app, "")


def config_secret_name(app: str) -> str:
    return f"heroku2aws/{app}/config"


def source_secret_name(app: str, store: str) -> str:
    """``heroku2aws/<app>/source-postgres`` / ``source-redis``: written by the workflow from Heroku's config vars when
    the input is the minimal one (heroku2aws.steps.complete_input)."""
    return f"heroku2aws/{app}/source-{store}"


def schedule_name(app: str, job: str) -> str:
    """``h2a-<app>.<job>``: the EventBridge Scheduler schedule of one Heroku Scheduler job (CreateSchedule's Name: at
    most 64 of ``[0-9a-zA-Z-_.]``). No app name holds a dot, so ``h2a-<app>.*`` is this app's only (the IAM resource
    of the workflow's scheduler grants in template.yaml)."""
    return f"h2a-{app}.{job}"


def role_prefix(app: str) -> str:
    """The IAM role names the stack may pass to ECS (``iam:PassRole`` in template.yaml)."""
    return f"heroku2aws-{app}-"


def services_log_group(app: str) -> str:
    return f"/heroku2aws/{app}/services"


def resource_names(app: str) -> frozenset[str]:
    """Every fixed name the workflow gives a resource of ``app`` (ECS names depend on the process types)."""
    return frozenset({dms_id(app), dms_endpoint_id(app, "source"), dms_endpoint_id(app, "target"),
                      config_secret_name(app)})


# ------------------------------------------------------------------------------ tags


def tags(app: str, execution_id: str) -> list[dict[str, str]]:
    """The tags of everything the workflow creates, in the ``[{"Key", "Value"}]`` form the APIs take."""
    return [
        {"Key": APP_TAG, "Value": app},
        {"Key": "app", "Value": app},
        {"Key": MANAGED_TAG, "Value": "true"},
        {"Key": EXECUTION_TAG, "Value": execution_id[-MAX_TAG_VALUE:]},
    ]


def tag_map(found: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """``{key: value}`` from AWS's tag lists, whichever case the service uses (``Key``/``key``)."""
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value"))) for t in found or []}


def is_app_resource(found: Iterable[Mapping[str, str]] | None, app: str) -> bool:
    """Tagged ``heroku2aws:app`` = ``app``: an ECS service or task definition the rollback may remove."""
    return tag_map(found).get(APP_TAG) == app


def is_workflow_secret(found: Iterable[Mapping[str, str]] | None, app: str) -> bool:
    """Created by the workflow for ``app`` (``heroku2aws:managed`` = true, and ``heroku2aws:app`` = ``app``
    when set): a user's own secret, tagged ``heroku2aws:app`` to let the stack read it, is never written or
    deleted."""
    found_tags = tag_map(found)
    return found_tags.get(MANAGED_TAG) == "true" and found_tags.get(APP_TAG, app) == app
