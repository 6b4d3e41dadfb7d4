"""Error names as Step Functions reports them, per integration; the facts come from
``heroku2aws_conformance.rules`` (each with its source there), never from the emulator.

- ``aws-sdk:<service>:<action>``: ``ServiceName.ErrorName`` for an exception the service's model declares
  (``DatabaseMigration.InvalidResourceStateException`` for DMS's ``InvalidResourceStateFault``); anything the
  model does not declare — throttling included — arrives as the service's generic exception
  (``Ecs.EcsException``, ``DatabaseMigration.DatabaseMigrationException``). Guide: "AWS SDK service
  integrations", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html; names
  as the AWS SDK for Java 2.x generates its classes (rules.SRC_JAVA_NAMING). moto named any code
  ``Service.CodeException``, so a Retry on a name AWS never raises (``Ecs.ThrottlingException``) matched.
- the optimized integrations (``lambda:invoke``, ``ecs:runTask(.sync)``, ``sns:publish(.waitForTaskToken)``):
  ``Lambda.`` / ``ECS.`` / ``SNS.`` + a declared exception of the service, else the integration's generic
  name (rules.OPTIMIZED_INTEGRATION_ERRORS; guide pages connect-lambda.html, connect-ecs.html,
  connect-sns.html, bp-lambda-serviceexception.html).
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from heroku2aws_conformance import rules

from .models import service_model

#: Optimized integration (resource without partition or pattern) -> (error prefix, generic name, botocore service).
#: Each name is one of rules.OPTIMIZED_INTEGRATION_ERRORS' (checked by tests/engine).
OPTIMIZED_NAMING: dict[str, tuple[str, str, str]] = {
    "lambda:invoke": ("Lambda", "Lambda.AWSLambdaException", "lambda"),
    "ecs:runTask": ("ECS", "ECS.AmazonECSException", "ecs"),
    "sns:publish": ("SNS", "SNS.AmazonSNSException", "sns"),
}


def declared_shape(boto_service: str, error_code: str) -> str | None:
    """The exception shape of ``boto_service``'s model that carries ``error_code``, or None (undeclared)."""
    code = error_code.split(".")[-1]
    for shape in service_model(boto_service).error_shapes:
        if code in (shape.name, shape.metadata.get("error", {}).get("code")):
            return shape.name
    return None


def sdk_error_name(sfn_service: str, error_code: str) -> str:
    """The error an ``aws-sdk:<sfn_service>`` task reports for a service error with this code."""
    boto = rules.botocore_service(sfn_service.lower())
    shape = declared_shape(boto, error_code) if boto else None
    if shape is None:
        return rules.generic_error_name(sfn_service.lower())
    return rules.sdk_error_name(sfn_service.lower(), shape)


def optimized_error_name(resource: str, error_code: str) -> str | None:
    """The error an optimized integration reports for a service error, or None when it is not one we know."""
    key = re.sub(r"^arn:aws[a-z-]*:states:::", "", resource).split(".")[0]
    if key not in OPTIMIZED_NAMING:
        return None
    prefix, generic, boto = OPTIMIZED_NAMING[key]
    shape = declared_shape(boto, error_code)
    name = f"{prefix}.{rules.java_exception_name(shape)}" if shape else generic
    return name if name in rules.OPTIMIZED_INTEGRATION_ERRORS.get(f"arn:aws:states:::{key}", frozenset()) else generic


def error_prefix(sfn_service: str) -> str:
    return rules.error_prefix(sfn_service.lower())


def cause_of(ex: ClientError, service_label: str) -> str:
    meta = ex.response.get("ResponseMetadata", {})
    error = ex.response.get("Error", {})
    return (f"{error.get('Message', str(ex))} (Service: {service_label}, Status Code: {meta.get('HTTPStatusCode', 400)}, "
            f"Error Code: {error.get('Code', 'Unknown')}, Request ID: {meta.get('RequestId', '')})")


def apply() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda as lam,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sns as sns,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def failure(self, env, error: str, cause: str) -> FailureEvent:
        return FailureEvent(
            env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                error=error, cause=cause)))

    original_sdk = sdk.StateTaskServiceAwsSdk._from_error

    def sdk_from_error(self, env, ex: Exception):
        if not isinstance(ex, ClientError):
            return original_sdk(self, env, ex)
        service = self.resource.api_name
        code = ex.response.get("Error", {}).get("Code", "Unknown")
        return failure(self, env, sdk_error_name(service, code), cause_of(ex, error_prefix(service)))

    sdk.StateTaskServiceAwsSdk._from_error = sdk_from_error

    for cls, label in ((lam.StateTaskServiceLambda, "AWSLambda"), (ecs.StateTaskServiceEcs, "AmazonECS"),
                       (sns.StateTaskServiceSns, "AmazonSNS")):
        def optimized_from_error(self, env, ex: Exception, _original=cls._from_error, _label=label):
            if isinstance(ex, ClientError):
                name = optimized_error_name(self.resource.resource_arn, ex.response.get("Error", {}).get("Code", ""))
                if name is not None:
                    return failure(self, env, name, cause_of(ex, _label))
            return _original(self, env, ex)

        cls._from_error = optimized_from_error
