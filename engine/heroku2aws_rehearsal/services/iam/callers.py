"""Each principal of the workflow calls with its own identity.

- the state machine: every ``aws-sdk:`` and optimized-integration call moto's interpreter makes goes
  through ``boto_client_for(region, service, state_credentials)``; it now signs with the state's
  credentials (the state machine's role, or the state's ``Credentials.RoleArn``) instead of moto's
  fixed ``ak``/``sk``;
- a Lambda function: its worker process gets its execution role's credentials (session: the
  function's name, as Lambda names it);
- an ECS task: its container gets the task role's credentials (none without a task role); before it
  starts, the *execution* role must be allowed to pull the image (ECR), create the log stream
  (``awslogs``) and read every ``secrets[].valueFrom`` — otherwise the task stops before the
  container starts, with ECS's ``ResourceInitializationError``;
- DMS: an endpoint that reads its connection from Secrets Manager does so as its
  ``SecretsManagerAccessRoleArn``, which must trust DMS and be allowed ``secretsmanager:GetSecretValue``;
- the EventBridge Scheduler schedule: its target is called with the schedule's role.

A service assumes a role only if the role's trust policy lets that service do so.
"""

from __future__ import annotations

from typing import Any

from ...aws import ACCOUNT_ID, REGION
from . import roles
from .enforce import ENFORCER, AccessDenied, enabled
from .identity import IDENTITIES, Principal
from .policy import Decision, Request, evaluate

STATES_SESSION = "StepFunctions"


class CannotAssume(Exception):
    """The role does not exist or does not trust the service (``sts:AssumeRole`` refused)."""


def assume(role_arn: str, service: str, session: str, context: dict[str, Any] | None = None) -> Principal:
    """The principal ``service`` acts as when it assumes ``role_arn`` (trust policy checked). ``context``: the
    keys the service sets on its AssumeRole (``aws:SourceAccount``, ``aws:SourceArn``) for trust conditions."""
    principal = IDENTITIES.principal(role_arn, session)
    if not enabled():
        return principal
    try:
        trust = roles.trust_policy(role_arn)
    except roles.NoSuchRole as exc:
        raise CannotAssume(str(exc)) from exc
    request = Request(action="sts:AssumeRole", resource=role_arn, principal_service=service, context=dict(context or {}))
    if evaluate([trust], request, resource_policy=True) is not Decision.ALLOW:
        raise CannotAssume(f"{service} is not allowed to assume {role_arn} (its trust policy does not name it)")
    return principal


# ----------------------------------------------------------------------------- the state machine

def patch_state_machine_calls() -> None:
    import importlib
    import sys

    import boto3
    from moto.stepfunctions.parser.asl.utils import boto_client as bc

    if getattr(bc.boto_client_for, "_h2a", False):
        return
    original = bc.boto_client_for
    for name in ("state_task.lambda_eval_utils", "state_task.service.state_task_service_aws_sdk",
                 "state_task.service.state_task_service_ecs", "state_task.service.state_task_service_sns",
                 "state_task.service.state_task_service_sfn", "state_task.service.state_task_service_events",
                 "state_task.service.state_task_service_sqs", "state_task.service.state_task_service_dynamodb",
                 "state_task.service.state_task_service_batch", "state_task.service.state_task_service_glue",
                 "state_task.service.state_task_service_unsupported"):
        importlib.import_module(f"moto.stepfunctions.parser.asl.component.state.exec.{name}")

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        role_arn = getattr(state_credentials, "role_arn", None)
        client = original(region=region, service=service, state_credentials=state_credentials)
        if not role_arn:
            return client
        creds = IDENTITIES.issue(role_arn, STATES_SESSION)
        return boto3.client(service, region_name=region, endpoint_url=client.meta.endpoint_url,
                            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=creds["AWS_SESSION_TOKEN"],
                            config=client.meta.config)

    boto_client_for._h2a = True  # type: ignore[attr-defined]
    for module in list(sys.modules.values()):
        if module is not None and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for


# ----------------------------------------------------------------------------- Lambda

def function_credentials(function_name: str) -> dict[str, str]:
    """The execution role's credentials for a function's sandbox (session name: the function's name)."""
    from moto.awslambda.models import lambda_backends
    from moto.awslambda_simple.models import lambda_simple_backends

    try:  # without Docker, moto keeps the functions in its "simple" backend
        role_arn = lambda_simple_backends[ACCOUNT_ID][REGION].get_function(function_name).role
    except Exception:
        role_arn = lambda_backends[ACCOUNT_ID][REGION].get_function(function_name).role
    try:
        assume(role_arn, "lambda.amazonaws.com", function_name)
    except CannotAssume as exc:  # Lambda refuses to create such a function; never run it with another identity
        raise RuntimeError(f"function {function_name}: {exc}") from exc
    return IDENTITIES.issue(role_arn, function_name)


# ----------------------------------------------------------------------------- ECS

class TaskCannotStart(Exception):
    """The task stops before its container starts (``stopCode: TaskFailedToStart``)."""


def _authorize(principal: Principal, action: str, resource: str, context: dict | None = None) -> None:
    ENFORCER.authorize(principal, action, resource, context)


def task_credentials(task_def: Any, overrides: dict | None, session: str) -> dict[str, str]:
    """The container's environment for its task role (no credentials at all without one)."""
    from .identity import no_credentials

    role_arn = (overrides or {}).get("taskRoleArn") or getattr(task_def, "task_role_arn", None)
    if not role_arn:
        return no_credentials()
    try:
        assume(role_arn, "ecs-tasks.amazonaws.com", session)
    except CannotAssume as exc:
        raise TaskCannotStart(f"ResourceInitializationError: unable to assume the task role: {exc}") from exc
    return IDENTITIES.issue(role_arn, session)


def check_task_start(task_def: Any, overrides: dict | None, session: str) -> None:
    """What the ECS agent does with the execution role before the container starts."""
    container = task_def.container_definitions[0]
    secrets = container.get("secrets") or []
    role_arn = (overrides or {}).get("executionRoleArn") or getattr(task_def, "execution_role_arn", None)
    image = str(container.get("image") or "")
    private_ecr = ".dkr.ecr." in image
    logs = (container.get("logConfiguration") or {})
    awslogs = logs.get("logDriver") == "awslogs"
    if not role_arn:
        if secrets or private_ecr or awslogs:
            raise TaskCannotStart("ResourceInitializationError: the task definition has no execution role, "
                                  "which pulling secrets, private images and awslogs need")
        return
    try:
        principal = assume(role_arn, "ecs-tasks.amazonaws.com", session)
    except CannotAssume as exc:
        raise TaskCannotStart(f"ResourceInitializationError: unable to assume the execution role: {exc}") from exc
    try:
        if private_ecr:
            registry, _, rest = image.partition("/")
            repository = rest.split("@")[0].rsplit(":", 1)[0]
            account, region = registry.split(".")[0], registry.split(".")[3]
            _authorize(principal, "ecr:GetAuthorizationToken", "*")
            for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
                _authorize(principal, action, f"arn:aws:ecr:{region}:{account}:repository/{repository}")
    except AccessDenied as exc:
        raise TaskCannotStart(f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                              f"failed to resolve ref {image}: AccessDeniedException: {exc}") from exc
    try:
        if awslogs:
            options = logs.get("options") or {}
            group = options.get("awslogs-group", "")
            stream = f"{options.get('awslogs-stream-prefix', '')}/{container.get('name')}/{session}"
            arn = f"arn:aws:logs:{options.get('awslogs-region', REGION)}:{ACCOUNT_ID}:log-group:{group}:log-stream:{stream}"
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                _authorize(principal, action, arn)
    except AccessDenied as exc:
        raise TaskCannotStart(f"ResourceInitializationError: failed to validate logger args: create stream has "
                              f"been retried 1 times: failed to create Cloudwatch log stream: "
                              f"AccessDeniedException: {exc}") from exc
    for item in secrets:
        authorize_secret_read(principal, item["valueFrom"], for_task=True)


def authorize_secret_read(principal: Principal, value_from: str, for_task: bool = False) -> None:
    """``secretsmanager:GetSecretValue`` on the secret a ``valueFrom`` / ``SecretsManagerSecretId`` names."""
    from .resources import _secret

    parts = value_from.split(":")
    secret_id = ":".join(parts[:7]) if value_from.startswith("arn:") else value_from
    arn, tags = _secret(secret_id)
    context: dict[str, Any] = {"secretsmanager:SecretId": arn}
    for k, v in tags.items():
        context[f"secretsmanager:ResourceTag/{k}"] = v
        context[f"aws:ResourceTag/{k}"] = v
    try:
        _authorize(principal, "secretsmanager:GetSecretValue", arn, context)
    except AccessDenied as exc:
        if not for_task:
            raise
        raise TaskCannotStart(
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"AccessDeniedException: {exc}") from exc


# ----------------------------------------------------------------------------- DMS

def check_dms_secret(settings: dict, secret_id: str, endpoint_identifier: str) -> None:
    """DMS reads an endpoint's secret as the endpoint's secrets-access role."""
    if not enabled():
        return
    role_arn = settings.get("SecretsManagerAccessRoleArn")
    if not role_arn:
        raise PermissionError(f"endpoint {endpoint_identifier}: SecretsManagerSecretId without "
                              "SecretsManagerAccessRoleArn")
    try:
        principal = assume(role_arn, f"dms.{REGION}.amazonaws.com", f"dms-{endpoint_identifier}")
    except CannotAssume:
        principal = assume(role_arn, "dms.amazonaws.com", f"dms-{endpoint_identifier}")
    authorize_secret_read(principal, secret_id)
