"""What each step's Lambda function takes: the ``Payload`` the ASL builds, one model per step.

Every event after validation carries the normalised execution input (``input``) and the execution's ARN
(``execution_id``: the logs' correlation id). A handler parses its event with
:func:`heroku2aws.steps.validate_input.parse_event`, so a malformed event (an ASL wiring mistake) fails as
``InvalidInput`` with a value-free message.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .input import ExecutionInput, PendingInput
from .results import FormationItem

__all__ = ["CheckServicesEvent", "CompleteInputEvent", "HealthGateEvent", "HerokuControlEvent", "PlanServicesEvent",
           "RollbackEvent", "StageEvent", "SwitchSecretsEvent", "ValidateEvent", "VerifyDataEvent"]

Direction = Literal["target", "source"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ValidateEvent(_Event):
    """validate_input: the raw execution input, checked by the step itself."""

    input: Any
    execution_id: str


class StageEvent(_Event):
    """preflight, import_config: the normalised input and the execution ARN (every other event extends it)."""

    input: ExecutionInput
    execution_id: str


class PlanServicesEvent(StageEvent):
    plan: dict[str, Any] = Field(default_factory=dict)  # preflight's result: only heroku.formation is read
    config: dict[str, Any]  # import_config's result: secret_arn and imported are read


class CheckServicesEvent(StageEvent):
    # names or ARNs, or objects with "ServiceName" (also {"service": {"ServiceName"}} as plan_services returns)
    services: list[Any] = Field(default_factory=list)


class HealthGateEvent(StageEvent):
    step: int | None = Field(default=None, ge=0, le=100)  # the AWS share in percent
    window_seconds: int = Field(default=300, ge=0, le=86400)  # the bake window


class HerokuControlEvent(StageEvent):
    action: Literal["freeze", "read-only", "restore", "status"]
    formation: list[FormationItem] = Field(default_factory=list)  # restore only
    maintenance: bool = False  # restore only


class SwitchSecretsEvent(StageEvent):
    to: Direction


class VerifyDataEvent(StageEvent):
    # "verify" (the default): the three checks, raising DataMismatch. "cdc-drained": has change capture
    # applied every write to the target yet? Postgres parity only, never raising.
    check: Literal["verify", "cdc-drained"] = "verify"
    # Who verified the Postgres tables already, inside the freeze (the ASL passes it from the copy step): the
    # streaming copy task, the post-data task after a DMS load, or the change-capture drain check. When set, the
    # tables are not compared again here (issue 18: no check twice, none bound by this Lambda's 900 s).
    postgres_verified_by: Literal["copy task", "post-data task", "change-capture drain check"] | None = None


class CompleteInputEvent(_Event):
    """complete_input: the minimal input completed from the landing, before the source secrets exist."""

    input: PendingInput
    execution_id: str


class RollbackEvent(_Event):
    """rollback: the ledger (newest last) and the execution input as JSON; ``previous_actions`` is the last
    pass's ``actions`` (a pass that repeats them changed nothing)."""

    ledger: list[dict[str, Any]] | None = None
    input: dict[str, Any] | None = None
    failure: Any = None
    execution_id: str | None = None
    previous_actions: list[str] | None = None
