"""What each step returns: the ``Payload`` the ASL reads, one model per step (per action where one function
answers several).

The handlers return ``model.model_dump(mode="json")``. The ASL reads these fields by name
(``$states.result.Payload.actions``, ``$plan.target.postgres_empty`` after ``plan := Payload``, a Choice on
``$states.input.stable``): ``tests/contracts/test_asl_contract.py`` fails when it reads a field that is not
here. Fields typed ``dict[str, Any]`` are AWS request shapes or reports passed through whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .input import ExecutionInput

__all__ = ["RESULTS", "CdcDrainedResult", "CheckServicesResult", "FormationItem", "FreezeResult",
           "HealthGateResult", "ImportConfigResult", "PlanServicesResult", "PreflightPlan", "ReadOnlyResult", "RestoreResult",
           "RollbackResult", "ServiceSecrets", "StatusResult", "SwitchSecretsResult", "VerifyDataResult", "result_model"]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ preflight


class _Report(BaseModel):
    model_config = ConfigDict(extra="allow")


class RedisReport(_Report):
    version: str
    used_memory: int
    maxmemory: int | None = None
    maxmemory_policy: str | None = None
    keys: int
    keys_per_db: dict[str, int]
    tls: bool
    run_id: str = ""  # INFO server's run_id: one server's random id, whatever name reaches it (same-server check)


class TargetPostgresReport(_Report):
    version: str
    version_num: int
    database: str
    user_tables: int
    empty: bool
    available_extensions: list[str] = Field(default_factory=list, exclude=True)


class DnsReport(_Report):
    hosted_zone_id: str
    zone_name: str
    private_zone: bool
    record_name: str
    record_exists: bool
    kind: str
    current: list[dict[str, Any]]


class Estimates(_Report):
    database_bytes: int
    redis_bytes: int
    redis_keys: int
    postgres_copy_seconds: int
    redis_copy_seconds: int
    verify_seconds: int
    write_freeze_seconds: int
    assumptions: dict[str, float]
    # heroku2aws.freeze_estimate: each component with what it is computed from, the basis, the measured rates
    components: list[dict[str, Any]] = []
    basis: str = ""
    rates: dict[str, float] = {}


class HerokuProcess(_Report):
    type: str | None
    quantity: int
    size: str | None
    command: str | None


class HerokuReport(_Report):
    name: str
    region: str
    stack: str
    maintenance: bool
    config_var_names: list[str]
    config_var_count: int
    formation: list[HerokuProcess]
    addon_attachments: list[str]


class PostgresPlan(_Report):
    source_dbname: str
    target_dbname: str
    schemas: list[str]
    table_mappings: dict[str, Any]
    source: dict[str, Any]
    target: TargetPostgresReport
    # The DMS task's TargetMetadata LOB settings, from the largest LOB value preflight measured (postgres/lobs.py).
    dms_lob_settings: dict[str, Any] = {}
    # The DMS full load's parallelism (postgres/parallel_load.py summary(): MaxFullLoadSubTasks, the split tables and
    # why); the ranges' boundaries are in table_mappings only.
    dms_full_load: dict[str, Any] = {}


class RedisPlan(_Report):
    source: RedisReport | None
    target: RedisReport | None


class TargetState(_Report):
    postgres_empty: bool
    redis_empty: bool


class ProcessPlan(_Report):
    type: str
    quantity: int
    size: str
    cpu: int
    memory: int


class PreflightPlan(_Report):
    app: str
    strategy: str
    heroku: HerokuReport
    postgres: PostgresPlan
    redis: RedisPlan | None
    target: TargetState
    dns: DnsReport
    processes: list[ProcessPlan]
    estimates: Estimates
    warnings: list[str]


# ------------------------------------------------------------------------------ stage 3


class ImportConfigResult(_Result):
    secret_arn: str
    secret_name: str
    created: bool
    restored: bool
    changed: bool
    imported: list[str]
    excluded: list[str]
    replaced: list[str] = Field(default_factory=list)  # the stores' URLs, pointed at the targets at the switch


class PlannedService(_Result):
    type: str
    task_definition: dict[str, Any]  # RegisterTaskDefinition arguments
    service: dict[str, Any]  # CreateService arguments without TaskDefinition


class ServiceSecrets(_Result):
    arn: str  # the config secret
    names: list[str]  # its keys: one container Secrets entry each, built by the ASL (plan_services.SECRETS_EXPRESSION)


class PlanServicesResult(_Result):
    release: dict[str, Any] | None  # RegisterTaskDefinition arguments (Secrets left empty)
    release_run: dict[str, Any] | None  # RunTask arguments without TaskDefinition
    services: list[PlannedService]
    secrets: ServiceSecrets
    warnings: list[str]
    # Heroku Scheduler's jobs (plan_services.scheduled_jobs): {"task_definition": RegisterTaskDefinition arguments,
    # "schedules": [CreateSchedule arguments without Target.RoleArn / EcsParameters.TaskDefinitionArn], "names"}.
    scheduler: dict[str, Any] | None = None


class ServiceReport(_Result):
    name: str
    status: str | None
    desired: int
    running: int
    pending: int
    deployments: int
    rollout_state: str | None


class TargetReport(_Result):
    id: str | None
    port: int | None
    state: str | None
    reason: str | None


class CheckServicesResult(_Result):
    stable: bool
    healthy: bool
    services: list[ServiceReport]
    targets: list[TargetReport]


# ------------------------------------------------------------------------------ stage 4


class TargetCounts(_Result):
    healthy: int
    total: int
    states: dict[str, int]


class ProbeSummary(_Result):
    ok: int
    total: int
    status_codes: list[int]


class HealthGateResult(_Result):
    healthy: bool
    reasons: list[str]
    notes: list[str]
    step: int | None
    targets: TargetCounts
    error_rate: float | None
    requests: int
    probe: ProbeSummary


# ------------------------------------------------------------------------------ stage 6


class FormationItem(BaseModel):
    """One process type of a Heroku formation (extra keys such as ``command`` are ignored)."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=0)
    size: str | None = Field(default=None, max_length=50)


class FreezeResult(_Result):
    formation: list[FormationItem]  # as it was before the freeze
    maintenance_was: bool
    scaled_to_zero: list[str]
    stopped_dynos: list[str] = Field(default_factory=list)  # one-off dynos (run.N, scheduler.N) stopped


class ReadOnlyResult(_Result):
    """The source database made read-only for the freeze (heroku_control action "read-only")."""

    database: str
    terminated_sessions: int  # sessions of the app's role ended so they reconnect read-only
    untouched_sessions: int  # client sessions of other roles, which the app's role cannot end
    write_probe: Literal["refused"]  # a new session's write was refused (anything else raises WriteFreezeFailed)


class StatusResult(_Result):
    formation: list[FormationItem]
    maintenance: bool


class RestoreResult(StatusResult):
    changed: list[str]
    skipped: list[str]


class SwitchSecretsResult(_Result):
    secret_arn: str
    switched_to: Literal["target", "source"]
    changed: bool
    version_id: str


class PostgresParity(_Result):
    match: bool
    tables: int | None  # None: verified by the copy step (its own log has the counts)
    rows: int | None
    mismatched: list[str]
    mismatched_count: int
    mode: str
    seconds: float
    verified_by: str = "verify-data"  # or the copy step that verified every table: "copy task", ...


class SequenceSync(_Result):
    synced: int
    total: int
    missing_on_target: list[str]


class RedisParity(_Result):
    match: bool
    keys: int
    sampled: int
    mismatched_dbs: list[int]
    mismatched_keys: list[str]
    mismatched_key_count: int


class VerifyDataResult(_Result):
    postgres: PostgresParity
    sequences: SequenceSync
    redis: RedisParity | None


class CdcDrainedResult(_Result):
    drained: bool
    tables: int
    rows: int
    mismatched: list[str]
    mismatched_count: int


# ------------------------------------------------------------------------------ rollback


class RollbackResult(_Result):
    done: bool
    pending: list[str]
    actions: list[str]


# ------------------------------------------------------------------------------ by step

#: step (its ``functions/<step>/`` directory) -> its result model, or ``{event field value: model}`` where
#: one function answers several (``heroku_control`` by ``action``, ``verify_data`` by ``check``).
RESULTS: dict[str, type[BaseModel] | tuple[str, str, dict[str, type[BaseModel]]]] = {
    "validate_input": ExecutionInput,
    "complete_input": ExecutionInput,  # the minimal input made whole (Landing=create)
    "preflight": PreflightPlan,
    "import_config": ImportConfigResult,
    "plan_services": PlanServicesResult,
    "check_services": CheckServicesResult,
    "health_gate": HealthGateResult,
    "heroku_control": ("action", "status", {"freeze": FreezeResult, "read-only": ReadOnlyResult,
                                            "restore": RestoreResult, "status": StatusResult}),
    "switch_secrets": SwitchSecretsResult,
    "verify_data": ("check", "verify", {"verify": VerifyDataResult, "cdc-drained": CdcDrainedResult}),
    "rollback": RollbackResult,
}


def result_model(step: str, event: Mapping[str, Any] | None = None) -> type[BaseModel]:
    """The model of what ``step`` returns for ``event`` (only the field that selects an action is read)."""
    found = RESULTS[step]
    if isinstance(found, tuple):
        field, default, by_value = found
        return by_value[str((event or {}).get(field, default))]
    return found
