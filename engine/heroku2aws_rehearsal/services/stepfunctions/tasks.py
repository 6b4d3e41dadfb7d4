"""Task states: request / response shapes, ``ecs:runTask.sync``, ``codebuild:startBuild.sync``, errors inside branches.

- Parameter / response normalisation is stubbed out in moto -> map Step Functions' PascalCase to each
  botocore input shape and the output back (``Cluster`` -> ``cluster``, ``taskArn`` -> ``TaskArn``), which
  ECS, whose shapes are camelCase, needs for ``aws-sdk:ecs:*`` and ``ecs:runTask.sync``; then validate every
  ``aws-sdk:`` request against the input shape as AWS does (validation.py).
- ``aws-sdk:`` service names that boto3 spells differently are resolved (``databasemigration`` is ``dms``).
- ``ecs:runTask.sync`` fails the state when the task's essential container exits non-zero, as AWS does
  (moto returned success for any STOPPED task), and an aborted one has its task stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from .models import boto_service, operation_model
from .validation import drop_nulls, refuse_invalid

LOG = logging.getLogger(__name__)


def json_safe(value: Any) -> Any:
    """Timestamps as Step Functions emits them (epoch milliseconds); everything else unchanged."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def _json_safe_in_place(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in list(value.items()):
            value[k] = json_safe(v)
    elif isinstance(value, list):
        value[:] = [json_safe(v) for v in value]


def _patch_normalisation() -> None:
    from botocore.model import ListShape, MapShape, StructureShape
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service as sts,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )

    cls = sts.StateTaskService

    def _get_boto_service_name(self, boto_service_name: str | None = None) -> str:
        return boto_service(boto_service_name or self.resource.api_name)

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None) -> None:
        service = self._get_boto_service_name(boto_service_name)
        action = self._get_boto_service_action(service_action_name)
        shape = operation_model(service, action).input_shape
        if shape is None or not isinstance(parameters, dict):
            return
        if not isinstance(self, sdk.StateTaskServiceAwsSdk):
            _require(service, action, parameters, shape)
            self._to_boto_request(parameters, shape)
            return
        # Nulls first: moto's mapper would turn a null string member into the string "null".
        cleaned = drop_nulls(parameters)
        parameters.clear()
        parameters.update(cleaned)
        self._to_boto_request(parameters, shape)
        refuse_invalid(service, action, parameters, shape)

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
    """An optimized integration's required members (its own parameter set is the guide's, not botocore's
    shape, so only this much is checked): AWS refuses the call when one is missing or null."""
    from botocore.exceptions import ClientError

    given = {k.lower(): v for k, v in parameters.items()}
    missing = sorted(m for m in getattr(shape, "required_members", []) if given.get(m.lower()) is None)
    if missing:
        LOG.warning("refused %s.%s: required parameters missing or null: %s", service, action, missing)
        raise ClientError({"Error": {"Code": "ValidationException",
                                     "Message": f"Missing required parameter(s): {', '.join(missing)}"},
                           "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "rehearsal"}}, action)


class EcsTaskFailed(Exception):
    def __init__(self, task: dict) -> None:
        super().__init__("ECS task stopped with a non-zero exit code")
        self.task = task


def states_task_failed(state, env, cause: dict):
    """The failure a .sync integration reports when its job ends badly (an ECS task exiting non-zero, a build that
    did not succeed): ``States.TaskFailed`` with the job's description as the cause, as Step Functions reports it."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
            resource=state._get_sfn_resource(), resourceType=state._get_sfn_resource_type(),
            error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=to_json_str(cause))),
    )


def _patch_ecs_sync() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs_mod,
    )

    cls = ecs_mod.StateTaskServiceEcs
    original_resolver = cls._build_sync_resolver

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        submitted = env.stack[-1] if env.stack and isinstance(env.stack[-1], dict) else {}
        inner = original_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials)

        def resolver():
            task = inner()
            if task is None:
                return None
            task = json_safe(task)
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
            return states_task_failed(self, env, ex.task)
        return original_from_error(self, env, ex)

    cls._build_sync_resolver = _build_sync_resolver
    cls._eval_sync = _eval_sync
    cls._from_error = _from_error


class CodeBuildFailed(Exception):
    def __init__(self, build: dict) -> None:
        super().__init__(f"CodeBuild build ended {build.get('BuildStatus')}")
        self.build = build


def _patch_codebuild_sync() -> None:
    """``arn:aws:states:::codebuild:startBuild.sync`` (moto forwarded CodeBuild only for .waitForTaskToken).

    Step Functions guide, "Manage AWS CodeBuild builds with Step Functions"
    (https://docs.aws.amazon.com/step-functions/latest/dg/connect-codebuild.html): StartBuild supports Request
    Response and Run a Job (.sync); the parameters are StartBuild's, in PascalCase. With .sync the state waits
    for the build to end and outputs ``{"Build": <the build as BatchGetBuilds describes it>}``; a build that ends
    other than SUCCEEDED fails the state with States.TaskFailed, its cause the build. An aborted state has its
    build stopped (the reason the guide's .sync policy carries codebuild:StopBuild)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory as stf
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client as bc

    class StateTaskServiceCodeBuild(StateTaskServiceCallback):
        def __init__(self) -> None:
            # moto's .sync machinery waits on the task's callback endpoint, which it creates only for services
            # that take waitForTaskToken: declared here for that (the workflow never uses codebuild .waitForTaskToken).
            super().__init__(supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})

        def _get_supported_parameters(self):
            # The guide's optimized StartBuild takes StartBuild's request members (API Reference, StartBuild
            # Request Syntax), in PascalCase; the other CodeBuild APIs the guide lists are not rehearsed (refused).
            if self.resource.api_action.lower() != "startbuild":
                return None
            shape = operation_model("codebuild", "StartBuild").input_shape
            return {name[0].upper() + name[1:] for name in shape.members}

        def _client(self, resource_runtime_part, state_credentials):
            return bc.boto_client_for(region=resource_runtime_part.region, service="codebuild",
                                      state_credentials=state_credentials)

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            action = self._get_boto_service_action()
            response = getattr(self._client(resource_runtime_part, state_credentials), action)(**normalised_parameters)
            response.pop("ResponseMetadata", None)
            self._normalise_response(response=response, service_action_name=action)
            env.stack.append(json_safe(response))

        def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            client = self._client(resource_runtime_part, state_credentials)
            submitted = env.stack.pop()
            build_id = submitted["Build"]["Id"]

            def resolver():
                out = client.batch_get_builds(ids=[build_id])
                out.pop("ResponseMetadata", None)
                build = out["builds"][0]
                if build.get("buildStatus") == "IN_PROGRESS":
                    return None
                self._normalise_response(response=out, service_action_name="batch_get_builds")
                described = json_safe(out["Builds"][0])
                if described.get("BuildStatus") != "SUCCEEDED":
                    raise CodeBuildFailed(described)
                return {"Build": described}

            resolver.stop_on_abort = (client, build_id)
            return resolver

        def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
            outcome = super()._eval_sync(env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint)
            target = getattr(sync_resolver, "stop_on_abort", None)
            if outcome is None and not env.is_running() and target:
                client, build_id = target
                try:
                    client.stop_build(id=build_id)
                except Exception as exc:  # best effort, as on AWS
                    LOG.warning("could not stop the aborted state's build %s: %s", build_id, exc)
            return outcome

        def _from_error(self, env, ex):
            if isinstance(ex, CodeBuildFailed):
                return states_task_failed(self, env, ex.build)
            return super()._from_error(env, ex)

    original = stf.state_task_service_for

    def state_task_service_for(service_name: str):
        if service_name == "codebuild":
            return StateTaskServiceCodeBuild()
        return original(service_name)

    stf.state_task_service_for = state_task_service_for


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


def apply() -> None:
    _patch_normalisation()
    _patch_ecs_sync()
    _patch_codebuild_sync()
    _patch_branch_errors()
    _patch_cancelled_sync_wait()
