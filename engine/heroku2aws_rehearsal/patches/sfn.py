"""Close the gaps between moto 5.2.5's ASL interpreter and AWS Step Functions.

Each patch names the gap it closes (see DESIGN.md, "The local rehearsal engine"):

- JSONata is stubbed out in moto -> evaluate with ``jsonata-python`` (a port of the Java JSONata
  that LocalStack, where moto's interpreter comes from, uses). String variables are encoded as
  JSON (moto quotes them without escaping, so a quote or newline in a value broke the expression).
- Parameter / response normalisation is stubbed out -> map Step Functions' PascalCase to each
  botocore input shape and the output back (``Cluster`` -> ``cluster``, ``taskArn`` -> ``TaskArn``),
  which ECS, whose shapes are camelCase, needs for ``aws-sdk:ecs:*`` and ``ecs:runTask.sync``.
- ``aws-sdk:`` service names that boto3 spells differently are resolved (``databasemigration`` is
  boto3's ``dms``, ``elasticloadbalancingv2`` is ``elbv2``, ...).
- Errors of ``aws-sdk:`` tasks are named as AWS names them: ``ServiceName.ErrorName``, both
  PascalCase, always ending in ``Exception`` (AWS's examples: ``AcmPca.ResourceNotFoundException``,
  ``S3.BucketAlreadyExistsException``). moto produced ``secretsmanager.ResourceNotFoundException``.
- ``ecs:runTask.sync`` fails the state when the task's essential container exits non-zero, as AWS
  does (moto returned success for any STOPPED task).
- Fault injection for rehearsals: a named state can be made to fail once (``--fail-at``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import jsonata
from botocore.exceptions import ClientError
from botocore.loaders import Loader
from botocore.model import ServiceModel

LOG = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Service names and error names
# --------------------------------------------------------------------------------------------

#: ``aws-sdk:<service>`` (the SDK v2 service id, lower case) -> boto3 client name, where they differ.
SFN_TO_BOTO_SERVICE: dict[str, str] = {
    "sfn": "stepfunctions",
    "states": "stepfunctions",
    "databasemigration": "dms",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "acmpca": "acm-pca",
    "applicationautoscaling": "application-autoscaling",
    "servicediscovery": "servicediscovery",
}

#: ``aws-sdk:<service>`` -> the PascalCase service name AWS puts before the error name.
SFN_ERROR_SERVICE: dict[str, str] = {
    "acmpca": "AcmPca",
    "cloudwatch": "CloudWatch",
    "cloudwatchlogs": "CloudWatchLogs",
    "databasemigration": "DatabaseMigration",
    "dynamodb": "DynamoDb",
    "ec2": "Ec2",
    "ecs": "Ecs",
    "elasticache": "ElastiCache",
    "elasticloadbalancingv2": "ElasticLoadBalancingV2",
    "eventbridge": "EventBridge",
    "iam": "Iam",
    "lambda": "Lambda",
    "rds": "Rds",
    "route53": "Route53",
    "s3": "S3",
    "scheduler": "Scheduler",
    "secretsmanager": "SecretsManager",
    "sfn": "Sfn",
    "sns": "Sns",
    "sqs": "Sqs",
    "ssm": "Ssm",
    "sts": "Sts",
}


def sfn_error_service(service: str) -> str:
    return SFN_ERROR_SERVICE.get(service.lower(), service[:1].upper() + service[1:])


def sfn_error_name(service: str, error_code: str) -> str:
    """``secretsmanager`` + ``ResourceNotFoundException`` -> ``SecretsManager.ResourceNotFoundException``.

    The error part follows the AWS SDK v2 names AWS uses: a ``Fault`` suffix (DMS, RDS) becomes
    ``Exception``, a missing suffix is added (``BucketAlreadyExists`` -> ``BucketAlreadyExistsException``),
    and an upper-case run is capitalised once (``DBInstanceNotFound`` -> ``DbInstanceNotFound``).
    """
    code = error_code.split(".")[-1] or "Unknown"
    code = re.sub(r"(Fault|Exception)$", "", code) or code
    code = re.sub(r"([A-Z])([A-Z]+)(?=[A-Z][a-z]|$)", lambda m: m.group(1) + m.group(2).lower(), code)
    code = code[:1].upper() + code[1:]
    return f"{sfn_error_service(service)}.{code}Exception"


# --------------------------------------------------------------------------------------------
# Parameter / response normalisation over botocore shapes
# --------------------------------------------------------------------------------------------

_loader = Loader()
_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()


def service_model(boto_service: str) -> ServiceModel:
    with _models_lock:
        if boto_service not in _models:
            _models[boto_service] = ServiceModel(_loader.load_service_model(boto_service, "service-2"),
                                                 service_name=boto_service)
        return _models[boto_service]


def operation_model(boto_service: str, snake_action: str):
    model = service_model(boto_service)
    for name in model.operation_names:
        if _snake(name) == snake_action:
            return model.operation_model(name)
    raise KeyError(f"{boto_service} has no operation {snake_action}")


def _snake(name: str) -> str:
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    return camel_to_snake_case(name)


# --------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------


class FaultInjector:
    """Make named states fail: ``arm("Create the ECS services", times=1)``.

    ``error`` defaults to ``Rehearsal.InjectedFailure``; a transient-fault test arms an AWS error
    name instead (``Lambda.TooManyRequestsException``, ``Ecs.ThrottlingException``) to prove a Retry.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, list[tuple[str, str] | None]] = {}
        self.fired: list[tuple[str, str]] = []

    def arm(self, state: str, error: str = "Rehearsal.InjectedFailure", cause: str | None = None,
            times: int = 1, skip: int = 0) -> None:
        """Fail the next ``times`` entries of ``state`` after letting ``skip`` entries pass."""
        cause = cause or f"Failure injected by the rehearsal at state {state!r}"
        with self._lock:
            self._armed.setdefault(state, []).extend([None] * skip + [(error, cause)] * times)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self.fired.clear()

    def take(self, state: str) -> tuple[str, str] | None:
        with self._lock:
            pending = self._armed.get(state)
            if not pending:
                return None
            fault = pending.pop(0)
            if fault is not None:
                self.fired.append((state, fault[0]))
            return fault


FAULTS = FaultInjector()

_applied = False


def apply() -> None:
    """Apply every patch once (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    _patch_jsonata()
    _patch_normalisation()
    _patch_aws_sdk_errors()
    _patch_ecs_sync()
    _patch_fault_injection()
    _patch_branch_errors()
    _patch_cancelled_sync_wait()


# Variable declarations travel inside moto's JSONata strings (``($cfg:=<json>;...expr)``), and moto caches
# those strings. Parsing every variable's JSON as JSONata source on every evaluation was a quarter of the
# engine's CPU; so each declaration is written between separators JSON never contains (it escapes control
# characters), lifted back out with ``json.loads`` and passed to JSONata as bindings, and what remains (the
# expression itself) is compiled once per thread.
_DECL = re.compile("\x1e(\\$[^\x1f]*)\x1f(.*?)\x1e", re.S)
_compiled = threading.local()


def _split_declarations(expression: str) -> tuple[str, dict[str, Any]]:
    if "\x1e" not in expression:
        return expression, {}
    bindings: dict[str, Any] = {}

    def lift(match: re.Match) -> str:  # one pass: a later declaration of the same name wins, as with :=
        bindings[match.group(1)[1:]] = json.loads(match.group(2))
        return ""

    return _DECL.sub(lift, expression), bindings


def _compile(expression: str):
    cache = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = {}
    compiled = cache.get(expression)
    if compiled is None:
        if len(cache) > 4096:
            cache.clear()
        compiled = cache[expression] = jsonata.Jsonata(expression)
    return compiled


def _patch_jsonata() -> None:
    from moto.stepfunctions.parser.asl.eval import states as states_mod
    from moto.stepfunctions.parser.asl.eval import variable_store as vs_mod
    from moto.stepfunctions.parser.asl.jsonata import jsonata as jmod

    def eval_jsonata(expression: str) -> Any:
        try:
            body, bindings = _split_declarations(expression)
            return _plain(_compile(body).evaluate(None, bindings or None))
        except Exception as ex:  # the interpreter turns this into States.QueryEvaluationError
            raise jmod.JSONataException("UNKNOWN", str(ex)) from ex

    jmod._eval_jsonata = eval_jsonata

    def encode(bindings: dict[str, Any]) -> str:
        return "".join(f"\x1e{ref}\x1f{json.dumps(value, separators=(',', ':'), default=str)}\x1e"
                       for ref, value in bindings.items())

    jmod.encode_jsonata_variable_declarations = encode
    states_mod.encode_jsonata_variable_declarations = encode
    vs_mod.encode_jsonata_variable_declarations = encode


def _plain(value: Any) -> Any:
    """jsonata-python gives floats for whole numbers in places; JSON (and Wait.Seconds) wants ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _json_safe(value: Any) -> Any:
    """Timestamps as Step Functions emits them (epoch milliseconds); everything else unchanged."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _json_safe_in_place(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in list(value.items()):
            value[k] = _json_safe(v)
    elif isinstance(value, list):
        value[:] = [_json_safe(v) for v in value]


def _patch_normalisation() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service as sts,
    )

    cls = sts.StateTaskService

    def _get_boto_service_name(self, boto_service_name: str | None = None) -> str:
        api_name = boto_service_name or self.resource.api_name
        return SFN_TO_BOTO_SERVICE.get(api_name.lower(), api_name)

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None) -> None:
        service = self._get_boto_service_name(boto_service_name)
        action = self._get_boto_service_action(service_action_name)
        shape = operation_model(service, action).input_shape
        if shape is not None and isinstance(parameters, dict):
            _require(service, action, parameters, shape)
            self._to_boto_request(parameters, shape)

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None) -> None:
        service = self._get_boto_service_name(boto_service_name)
        action = self._get_boto_service_action(service_action_name)
        shape = operation_model(service, action).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)
        _json_safe_in_place(response)

    cls._get_boto_service_name = _get_boto_service_name
    cls._normalise_parameters = _normalise_parameters
    cls._normalise_response = _normalise_response

    # The response mapper only renamed nested keys of structures inside lists; maps of structures
    # and nested lists were left raw. Recurse through every container, as AWS's output does.
    from botocore.model import ListShape, MapShape, StructureShape

    def _from_boto_response(self, response, structure_shape) -> None:
        if not isinstance(response, dict) or not isinstance(structure_shape, StructureShape):
            return
        members = structure_shape.members
        for key in list(response.keys()):
            if key not in members:
                continue
            value = self._from_boto_response_value(response.pop(key))
            _walk(self, value, members[key])
            response[self._to_sfn_cased(key)] = value

    def _walk(self, value, shape) -> None:
        if isinstance(shape, StructureShape):
            _from_boto_response(self, value, shape)
        elif isinstance(shape, ListShape) and isinstance(value, list):
            for item in value:
                _walk(self, item, shape.member)
        elif isinstance(shape, MapShape) and isinstance(value, dict):
            for item in value.values():
                _walk(self, item, shape.value)

    cls._from_boto_response = _from_boto_response


def _require(service: str, action: str, parameters: dict, shape) -> None:
    """AWS refuses a call whose required parameters are missing or null; moto's client skips that check
    (``parameter_validation=False``) and would create a resource with no name. Refuse it as AWS does."""
    given = {k.lower(): v for k, v in parameters.items()}  # Step Functions' PascalCase vs each shape's casing
    missing = sorted(m for m in getattr(shape, "required_members", []) if given.get(m.lower()) is None)
    if missing:
        LOG.warning("refused %s.%s: required parameters missing or null: %s (given: %s)",
                    service, action, missing, sorted(parameters))
        raise ClientError({"Error": {"Code": "ValidationException",
                                     "Message": f"Missing required parameter(s): {', '.join(missing)}"},
                           "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "rehearsal"}}, action)


def _patch_aws_sdk_errors() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = sdk.StateTaskServiceAwsSdk._from_error

    def _from_error(self, env, ex: Exception):
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        service = self.resource.api_name
        error = sfn_error_name(service, ex.response.get("Error", {}).get("Code", "Unknown"))
        meta = ex.response.get("ResponseMetadata", {})
        cause = (f"{ex.response.get('Error', {}).get('Message', str(ex))} (Service: {sfn_error_service(service)}, "
                 f"Status Code: {meta.get('HTTPStatusCode', 400)}, Request ID: {meta.get('RequestId', '')})")
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                error=error, cause=cause)),
        )

    sdk.StateTaskServiceAwsSdk._from_error = _from_error


class EcsTaskFailed(Exception):
    def __init__(self, task: dict) -> None:
        super().__init__("ECS task stopped with a non-zero exit code")
        self.task = task


def _patch_ecs_sync() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs_mod,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    cls = ecs_mod.StateTaskServiceEcs
    original_resolver = cls._build_sync_resolver

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        submitted = env.stack[-1] if env.stack and isinstance(env.stack[-1], dict) else {}
        inner = original_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials)

        def resolver():
            task = inner()
            if task is None:
                return None
            task = _json_safe(task)
            # AWS fails the state when an essential container exits non-zero (or never started).
            codes = [c.get("ExitCode") for c in task.get("Containers", [])]
            if any(code is None or code != 0 for code in codes) or not codes:
                raise EcsTaskFailed(task)
            return task

        task = (submitted.get("Tasks") or [{}])[0]
        resolver.stop_on_abort = (resource_runtime_part.region, state_credentials,
                                  task.get("ClusterArn"), task.get("TaskArn"))
        return resolver

    original_eval_sync = cls._eval_sync

    def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
        """A .sync state that is aborted (its Parallel branch cancelled, its execution stopped) has its
        ECS task stopped, as Step Functions does (the reason its .sync policy carries ecs:StopTask);
        moto only stopped polling and left the task running."""
        outcome = original_eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        target = getattr(sync_resolver, "stop_on_abort", None)
        if outcome is None and not env.is_running() and target and target[3]:
            from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

            region, credentials, cluster, task_arn = target
            try:
                boto_client_for(service="ecs", region=region, state_credentials=credentials).stop_task(
                    cluster=cluster, task=task_arn, reason="Step Functions: the state was aborted")
            except Exception as exc:  # best effort, as on AWS
                LOG.warning("could not stop the aborted state's task %s: %s", task_arn, exc)
        return outcome

    original_from_error = cls._from_error

    def _from_error(self, env, ex):
        if isinstance(ex, EcsTaskFailed):
            return FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                    error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=to_json_str(ex.task))),
            )
        return original_from_error(self, env, ex)

    cls._build_sync_resolver = _build_sync_resolver
    cls._eval_sync = _eval_sync
    cls._from_error = _from_error


class InjectedFailure(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(cause)
        self.error, self.cause = error, cause


def _patch_fault_injection() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = ExecutionState._evaluate_with_timeout

    def _evaluate_with_timeout(self, env) -> None:
        fault = FAULTS.take(self.name)
        if fault is not None:
            error, cause = fault
            raise FailureEventException(FailureEvent(
                env=env,
                error_name=CustomErrorName(error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    error=error, cause=cause, resource="rehearsal", resourceType="rehearsal")),
            ))
        return original(self, env)

    ExecutionState._evaluate_with_timeout = _evaluate_with_timeout


def _patch_branch_errors() -> None:
    """A States.* error inside a Parallel branch or Map iteration (States.TaskFailed from
    ecs:runTask.sync, States.Timeout, ...) propagates to the parent state on AWS; moto re-wrapped it
    as a custom error name and crashed on the reserved prefix."""
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name as cen
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName

    def __init__(self, error_name):
        ErrorName.__init__(self, error_name=error_name)

    cen.CustomErrorName.__init__ = __init__


def _patch_cancelled_sync_wait() -> None:
    """When a Parallel branch is cancelled (a sibling failed) while one of its ``.sync`` tasks is
    being scheduled, moto's evaluator skips the TimeoutSeconds evaluation of the stopped frame and
    pops the task's output in its place; the token-wait thread then crashed comparing a dict with 0.
    The branch is being torn down either way: treat it as "no callback" instead of a traceback."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as cb,
    )

    original = cb.StateTaskServiceCallback._wait_for_task_token_timeout

    def _wait_for_task_token_timeout(self, timeout_seconds, callback_endpoint):
        if not isinstance(timeout_seconds, int | float):
            return None
        return original(self, timeout_seconds, callback_endpoint)

    cb.StateTaskServiceCallback._wait_for_task_token_timeout = _wait_for_task_token_timeout
