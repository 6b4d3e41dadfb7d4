"""AWS's published rules, as data and small functions: what the checker (and the emulator) hold the project to.

Every fact names its source: a page of the Step Functions developer guide, the botocore service model
(``botocore service model <service>/<version>/service-2.json``, the same models the SDKs are generated
from), the AWS SDK for Java 2.x code generator (Step Functions' error names follow its class names), or
a page of the Service Authorization Reference. Nothing here comes from the emulator.

The API is stable (the rehearsal engine imports it):

- ``SFN_TO_BOTOCORE``, ``SFN_ERROR_PREFIX``: ``aws-sdk:<service>`` names -> botocore names / error prefixes
- ``botocore_service(sfn_service)``, ``service_model(botocore_service)``, ``operation_name(sfn_service, action)``
- ``java_pascal_case(word)``, ``sdk_service_name(service_id)``, ``java_exception_name(shape_name)``
- ``sdk_error_name(sfn_service, shape_name)``, ``generic_error_name(sfn_service)``, ``declared_errors(sfn_service, action)``
- ``OPTIMIZED_INTEGRATION_ERRORS``, ``OPTIMIZED_CUSTOM_ERRORS``, ``optimized_errors(resource)``
- ``STATES_ERRORS``, ``TASK_STATES_ERRORS``, ``errors_a_task_can_raise(resource)``
- ``SUPPORTED_JSONATA_FUNCTIONS``, ``jsonata_function_calls(expr)``, ``unsupported_jsonata_functions(expr)``
- ``RESERVED_VARIABLE_NAMES``, ``VARIABLE_NAME``, ``MAX_ASSIGN_BYTES``, ``INNER_SCOPE_MAY_REASSIGN_OUTER``
- ``IamRequirement``, ``iam_requirements(botocore_service, operation)``, ``iam_action_resource_types(action)``, ``IAM_PREFIX``
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import botocore.loaders
import botocore.model

# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------

SFN_GUIDE = "https://docs.aws.amazon.com/step-functions/latest/dg"
SRC_AWSSDK = f"{SFN_GUIDE}/supported-services-awssdk.html"
SRC_ERRORS = f"{SFN_GUIDE}/concepts-error-handling.html"
SRC_LAMBDA_BP = f"{SFN_GUIDE}/bp-lambda-serviceexception.html"
SRC_LAMBDA = f"{SFN_GUIDE}/connect-lambda.html"
SRC_ECS = f"{SFN_GUIDE}/connect-ecs.html"
SRC_ECS_IAM = f"{SFN_GUIDE}/ecs-iam.html"
SRC_SNS = f"{SFN_GUIDE}/connect-sns.html"
SRC_SNS_IAM = f"{SFN_GUIDE}/sns-iam.html"
SRC_CODEBUILD = f"{SFN_GUIDE}/connect-codebuild.html"
SRC_CODEBUILD_IAM = f"{SFN_GUIDE}/codebuild-iam.html"
SRC_LAMBDA_IAM = f"{SFN_GUIDE}/lambda-iam.html"
SRC_CALLBACK = f"{SFN_GUIDE}/connect-to-resource.html#connect-wait-token"
SRC_JSONATA = f"{SFN_GUIDE}/transforming-data.html"
SRC_VARIABLES = f"{SFN_GUIDE}/workflow-variables.html"
SRC_JAVA_NAMING = (
    "aws/aws-sdk-java-v2 codegen/src/main/java/software/amazon/awssdk/codegen/naming/DefaultNamingStrategy.java"
    " (getServiceName, getExceptionName) and utils/.../internal/CodegenNamingUtils.java (pascalCase)"
)
SRC_ECS_SYNC_EVIDENCE = (
    "https://github.com/cdklabs/construct-hub/pull/415 (a real execution failing with ECS.InvalidParameterException,"
    " retried with ECS.AmazonECSException)"
)
SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference"
SRC_EVENTBRIDGE_SNS = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-no-messages-published-sns"
)
SRC_SNS_SSE = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"


def botocore_source(service: str) -> str:
    """``botocore service model <service>/<version>/service-2.json`` for the installed botocore."""
    version = _loader().list_api_versions(service, "service-2")[-1]
    return f"botocore service model {service}/{version}/service-2.json"


# --------------------------------------------------------------------------------------------------
# aws-sdk service names
# --------------------------------------------------------------------------------------------------

# Step Functions' aws-sdk service name is the AWS SDK for Java 2.x service name (from the model's
# serviceId, see sdk_service_name) in lower case; its error prefix is that name as is
# (SRC_AWSSDK: "AcmPca.ResourceNotFoundException" for aws-sdk:acmpca). The table holds the services
# this project uses; botocore_service() derives any other from the models.
SFN_TO_BOTOCORE: dict[str, str] = {
    "cloudwatch": "cloudwatch",
    "cloudwatchlogs": "logs",
    "databasemigration": "dms",
    "ecs": "ecs",
    "elasticloadbalancingv2": "elbv2",
    "eventbridge": "events",
    "iam": "iam",
    "kms": "kms",
    "lambda": "lambda",
    "rds": "rds",
    "route53": "route53",
    "s3": "s3",
    "scheduler": "scheduler",
    "secretsmanager": "secretsmanager",
    "sfn": "stepfunctions",
    "sns": "sns",
    "sqs": "sqs",
}

SFN_ERROR_PREFIX: dict[str, str] = {
    "cloudwatch": "CloudWatch",
    "cloudwatchlogs": "CloudWatchLogs",
    "databasemigration": "DatabaseMigration",
    "ecs": "Ecs",
    "elasticloadbalancingv2": "ElasticLoadBalancingV2",
    "eventbridge": "EventBridge",
    "iam": "Iam",
    "kms": "Kms",
    "lambda": "Lambda",
    "rds": "Rds",
    "route53": "Route53",
    "s3": "S3",
    "scheduler": "Scheduler",
    "secretsmanager": "SecretsManager",
    "sfn": "Sfn",
    "sns": "Sns",
    "sqs": "Sqs",
}


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.Loader()


@functools.cache
def service_model(service: str) -> botocore.model.ServiceModel:
    """The botocore model of ``service`` (a botocore name: ``ecs``, ``dms``, ``elbv2`` …)."""
    return botocore.model.ServiceModel(_loader().load_service_model(service, "service-2"), service_name=service)


def java_split_words(word: str) -> list[str]:
    """The AWS SDK for Java 2.x word split (``CodegenNamingUtils.splitOnWordBoundaries``; SRC_JAVA_NAMING)."""
    out = re.sub(r"[^A-Za-z0-9]+", " ", word)
    out = re.sub(r"([^a-z]{2,})v([0-9]+)", r"\1 v\2 ", out)
    out = re.sub(r"([^A-Z]{2,})V([0-9]+)", r"\1 V\2 ", out)
    out = " ".join(re.split(r"(?<=[a-z])(?=[A-Z](?:[a-zA-Z]|[0-9]))", out))
    out = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", out)
    out = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", out)
    return re.sub(r" +", " ", out).strip().split(" ")


def java_pascal_case(word: str) -> str:
    """``CodegenNamingUtils.pascalCase``: every word lower-cased then capitalised (``DBInstance`` -> ``DbInstance``)."""
    return "".join(w[:1].upper() + w[1:].lower() for w in java_split_words(word) if w)


def sdk_service_name(service_id: str) -> str:
    """``DefaultNamingStrategy.getServiceName``: PascalCase serviceId less a leading Amazon/Aws and trailing Service."""
    name = java_pascal_case(service_id)
    for lead in ("Amazon", "Aws"):
        if name.startswith(lead):
            name = name[len(lead) :]
    if name.endswith("Service"):
        name = name[: -len("Service")]
    return name


def java_exception_name(shape_name: str) -> str:
    """``DefaultNamingStrategy.getExceptionName``: ``…Fault`` -> ``…Exception``; ``Exception`` appended when missing.

    ``DBInstanceNotFoundFault`` -> ``DbInstanceNotFoundException``; ``BucketAlreadyExists`` -> ``BucketAlreadyExistsException``.
    """
    if shape_name.endswith("Fault"):
        return java_pascal_case(shape_name[: -len("Fault")]) + "Exception"
    if shape_name.endswith("Exception"):
        return java_pascal_case(shape_name)
    return java_pascal_case(shape_name) + "Exception"


@functools.cache
def _derived_sfn_names() -> dict[str, tuple[str, str]]:
    """Every botocore service keyed by its aws-sdk name: ``{sfn_name: (botocore_name, error_prefix)}`` (slow: all models)."""
    out: dict[str, tuple[str, str]] = {}
    for name in _loader().list_available_services("service-2"):
        try:
            sid = service_model(name).metadata.get("serviceId") or name
        except Exception:  # noqa: S112 - a model that does not load is not a service we can call
            continue
        prefix = sdk_service_name(sid)
        out.setdefault(prefix.lower(), (name, prefix))
    return out


def botocore_service(sfn_service: str) -> str | None:
    """The botocore name of ``aws-sdk:<sfn_service>`` (``databasemigration`` -> ``dms``), or None when there is none."""
    if sfn_service in SFN_TO_BOTOCORE:
        return SFN_TO_BOTOCORE[sfn_service]
    found = _derived_sfn_names().get(sfn_service)
    return found[0] if found else None


def error_prefix(sfn_service: str) -> str:
    """``Ecs``, ``DatabaseMigration``, … (SRC_AWSSDK, SRC_JAVA_NAMING)."""
    if sfn_service in SFN_ERROR_PREFIX:
        return SFN_ERROR_PREFIX[sfn_service]
    found = _derived_sfn_names().get(sfn_service)
    if found is None:
        raise KeyError(f"no AWS service is called aws-sdk:{sfn_service}")
    return found[1]


def operation_name(sfn_service: str, action: str) -> str | None:
    """The botocore operation of ``aws-sdk:<sfn_service>:<action>`` (camelCase action -> PascalCase), or None."""
    service = botocore_service(sfn_service)
    if service is None:
        return None
    ops = {op.lower(): op for op in service_model(service).operation_names}
    return ops.get(action.lower())


# --------------------------------------------------------------------------------------------------
# Error names
# --------------------------------------------------------------------------------------------------


def sdk_error_name(sfn_service: str, shape_name: str) -> str:
    """The error an ``aws-sdk:`` task reports for a declared exception: ``ServiceName.ErrorName``.

    PascalCase, always ending in ``Exception`` (SRC_AWSSDK: ``AcmPca.ResourceNotFoundException``,
    ``S3.BucketAlreadyExistsException`` for S3's ``BucketAlreadyExists``); ``…Fault`` shapes (DMS, RDS)
    become ``…Exception`` and upper-case runs are folded as the Java 2.x SDK names its classes
    (``DatabaseMigration.ResourceAlreadyExistsException``, ``Rds.DbInstanceNotFoundException``; SRC_JAVA_NAMING).
    """
    return f"{error_prefix(sfn_service)}.{java_exception_name(shape_name)}"


def generic_error_name(sfn_service: str) -> str:
    """The service's base exception, for every error its model does not declare, throttling included.

    The Java 2.x SDK's base class of a service's exceptions is ``<ServiceName>Exception`` (``EcsException``,
    ``DatabaseMigrationException``, ``Route53Exception``; SRC_JAVA_NAMING), so ``Ecs.EcsException``.
    """
    prefix = error_prefix(sfn_service)
    return f"{prefix}.{prefix}Exception"


def declared_errors(sfn_service: str, action: str) -> frozenset[str]:
    """Every error name ``arn:aws:states:::aws-sdk:<sfn_service>:<action>`` can raise.

    Every exception shape of the service, not only the operation's ``errors`` list: the SDK maps an
    error code to whichever modelled exception of the service carries it (the generated client
    registers all of the service's exceptions with its protocol factory), and the per-operation
    lists are documentation, known to be incomplete. Plus the generic ``<Prefix>.<Prefix>Exception``
    for everything undeclared (throttling included: ECS and DMS declare no throttling exception, so
    ``Ecs.ThrottlingException`` is never raised). Raises KeyError for an unknown service or action.
    """
    service = botocore_service(sfn_service)
    if service is None or operation_name(sfn_service, action) is None:
        raise KeyError(f"aws-sdk:{sfn_service}:{action} is not an operation of any botocore model")
    names = {sdk_error_name(sfn_service, shape.name) for shape in service_model(service).error_shapes}
    names.add(generic_error_name(sfn_service))
    return frozenset(names)


# States.* error names (SRC_ERRORS, "Error names").
STATES_ERRORS: frozenset[str] = frozenset(
    {
        "States.ALL",
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
        "States.BranchFailed",
    }
)

# Those any Task state may report, whatever it integrates with (SRC_ERRORS): the wildcard, the
# task-level failures and the JSONata evaluation error. The Map/Parallel-only ones (BranchFailed,
# ItemReaderFailed, ResultWriterFailed, ExceedToleratedFailureThreshold) and the HTTP task's
# States.Http.Socket are left out.
TASK_STATES_ERRORS: frozenset[str] = frozenset(
    {
        "States.ALL",
        "States.DataLimitExceeded",
        "States.HeartbeatTimeout",
        "States.IntrinsicFailure",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
    }
)


def _model_exceptions(service: str, prefix: str) -> set[str]:
    """``<prefix>.<shape>`` for every exception shape of a botocore model, named as the Java SDK names classes."""
    return {f"{prefix}.{java_exception_name(shape.name)}" for shape in service_model(service).error_shapes}


def _optimized() -> dict[str, frozenset[str]]:
    lambda_errors = {
        # SRC_LAMBDA_BP: the transient service errors, the function's unhandled errors, the concurrency limit.
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
    }
    # The Invoke API's own exceptions (ResourceNotFoundException, …) under the same "Lambda." prefix
    # (SRC_LAMBDA_BP: "Lambda errors are reported as Lambda.ErrorName"; botocore service model lambda).
    lambda_errors |= _model_exceptions("lambda", "Lambda")
    # ecs:runTask.sync. SRC_ECS: a RunTask answer with a non-empty Failures field fails the task with
    # AmazonECS.Unknown; a task that stops unsuccessfully fails it with States.TaskFailed (TASK_STATES_ERRORS).
    # The guide names no other ECS error. Service errors of RunTask/DescribeTasks/StopTask surface with the
    # prefix "ECS" and the Java SDK v1 class names: evidence SRC_ECS_SYNC_EVIDENCE (ECS.InvalidParameterException
    # and the v1 base class ECS.AmazonECSException). NOT "Ecs.": that prefix is aws-sdk:ecs's.
    ecs_errors = {"AmazonECS.Unknown", "ECS.AmazonECSException"} | _model_exceptions("ecs", "ECS")
    # sns:publish. SRC_SNS names no error. By the same v1 convention as ECS: "SNS." + the model's exceptions
    # and the v1 base class SNS.AmazonSNSException (no AWS page states it: weakest evidence of this module).
    sns_errors = {"SNS.AmazonSNSException"} | _model_exceptions("sns", "SNS")
    # codebuild:startBuild.sync. SRC_CODEBUILD names no error; a build that ends FAILED / FAULT / STOPPED /
    # TIMED_OUT fails the task with States.TaskFailed. Service errors by the same v1 convention as ECS and SNS:
    # "CodeBuild." + the model's exceptions and the v1 base class CodeBuild.AWSCodeBuildException (as weak as SNS's).
    codebuild_errors = {"CodeBuild.AWSCodeBuildException"} | _model_exceptions("codebuild", "CodeBuild")
    return {
        "arn:aws:states:::lambda:invoke": frozenset(lambda_errors),
        "arn:aws:states:::ecs:runTask.sync": frozenset(ecs_errors),
        "arn:aws:states:::ecs:runTask": frozenset(ecs_errors),
        "arn:aws:states:::sns:publish": frozenset(sns_errors),
        "arn:aws:states:::sns:publish.waitForTaskToken": frozenset(sns_errors),
        "arn:aws:states:::codebuild:startBuild.sync": frozenset(codebuild_errors),
    }


# Optimized integration -> the service error names it can raise (States.* come on top: TASK_STATES_ERRORS).
OPTIMIZED_INTEGRATION_ERRORS: dict[str, frozenset[str]] = _optimized()

# Optimized integrations whose failures also carry names chosen by someone else: lambda:invoke reports a
# function error with the function's errorType (SRC_LAMBDA: "the error name is the errorType"); a
# .waitForTaskToken task fails with whatever Error the SendTaskFailure caller gives (SRC_CALLBACK).
OPTIMIZED_CUSTOM_ERRORS: dict[str, str] = {
    "arn:aws:states:::lambda:invoke": "the function's errorType (its exception's class name)",
    "arn:aws:states:::sns:publish.waitForTaskToken": "the Error given to SendTaskFailure",
}


def optimized_errors(resource: str) -> frozenset[str] | None:
    """The service error names of an optimized integration (``arn:aws:states:::…``), None when not listed."""
    return OPTIMIZED_INTEGRATION_ERRORS.get(_strip_partition(resource))


def _strip_partition(resource: str) -> str:
    return re.sub(r"^arn:aws[a-z-]*:states:::", "arn:aws:states:::", resource)


def errors_a_task_can_raise(resource: str) -> frozenset[str] | None:
    """Every fixed error name a Task with this ``Resource`` can report, States.* included.

    None when the resource is neither ``aws-sdk:`` nor a listed optimized integration (nothing known).
    Custom names (``OPTIMIZED_CUSTOM_ERRORS``) are not included: the caller decides about those.
    """
    resource = _strip_partition(resource)
    m = re.match(r"^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.[A-Za-z]+)?$", resource)
    if m:
        try:
            return declared_errors(m[1], m[2]) | TASK_STATES_ERRORS
        except KeyError:
            return None
    found = optimized_errors(resource)
    return None if found is None else found | TASK_STATES_ERRORS


# --------------------------------------------------------------------------------------------------
# JSONata
# --------------------------------------------------------------------------------------------------

# SRC_JSONATA: "Step Functions implements JSONata based on the 2.0.6 specification. All built-in JSONata
# functions and operators in the 2.0.6 specification are supported, with one exception: $eval is not
# available—use $parse instead", plus Step Functions' own functions ($partition, $range, $hash, $random
# with a seed, $uuid, $parse). The standard library is JSONata 2.0.6's (https://docs.jsonata.org/).
JSONATA_STANDARD_FUNCTIONS: frozenset[str] = frozenset(
    {
        # string
        "string", "length", "substring", "substringBefore", "substringAfter", "uppercase", "lowercase",
        "trim", "pad", "contains", "split", "join", "match", "replace", "eval", "base64encode",
        "base64decode", "encodeUrlComponent", "encodeUrl", "decodeUrlComponent", "decodeUrl",
        # numeric
        "number", "abs", "floor", "ceil", "round", "power", "sqrt", "random", "formatNumber",
        "formatBase", "formatInteger", "parseInteger",
        # aggregation
        "sum", "max", "min", "average",
        # boolean
        "boolean", "not", "exists",
        # array
        "count", "append", "sort", "reverse", "shuffle", "distinct", "zip",
        # object
        "keys", "lookup", "spread", "merge", "sift", "each", "error", "assert", "type", "clone",
        # date/time
        "now", "millis", "fromMillis", "toMillis",
        # higher-order
        "map", "filter", "single", "reduce",
    }
)  # fmt: skip
STEP_FUNCTIONS_JSONATA_FUNCTIONS: frozenset[str] = frozenset({"partition", "range", "hash", "random", "uuid", "parse"})
UNSUPPORTED_JSONATA_FUNCTIONS: frozenset[str] = frozenset({"eval"})
SUPPORTED_JSONATA_FUNCTIONS: frozenset[str] = (
    JSONATA_STANDARD_FUNCTIONS | STEP_FUNCTIONS_JSONATA_FUNCTIONS
) - UNSUPPORTED_JSONATA_FUNCTIONS

_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|/\*.*?\*/", re.S)
_CALL = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_BOUND = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*:=")
_LAMBDA_PARAMS = re.compile(r"(?:function|λ)\s*\(([^)]*)\)")


def jsonata_function_calls(expr: str) -> set[str]:
    """Names called as ``$name(…)`` in a JSONata expression, less those it binds itself (``$f := function…``, params)."""
    code = _STRING_LITERAL.sub("''", expr)
    bound = set(_BOUND.findall(code))
    for params in _LAMBDA_PARAMS.findall(code):
        bound |= {p.strip().lstrip("$").split("<")[0] for p in params.split(",") if p.strip()}
    return {name for name in _CALL.findall(code) if name not in bound and name not in {"function"}}


def unsupported_jsonata_functions(expr: str) -> list[str]:
    """Functions called in ``expr`` that Step Functions' JSONata does not have (``$eval``, unknown names)."""
    return sorted(name for name in jsonata_function_calls(expr) if name not in SUPPORTED_JSONATA_FUNCTIONS)


# --------------------------------------------------------------------------------------------------
# Variables (SRC_VARIABLES)
# --------------------------------------------------------------------------------------------------

# "$states" is reserved: Step Functions defines it in every JSONata state (SRC_JSONATA, SRC_VARIABLES).
RESERVED_VARIABLE_NAMES: frozenset[str] = frozenset({"states"})
# A variable name: a letter or underscore, then letters, digits, underscores (JSONata's own identifier
# rule for $name; SRC_VARIABLES asks names to be valid JSONata variable names).
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# SRC_VARIABLES: a state stores "up to 256 KiB" of variables (its Assign, serialised).
MAX_ASSIGN_BYTES = 256 * 1024
# SRC_VARIABLES, "Variable scope": the top-level states share one scope; each Parallel branch and Map
# iteration has a scope of its own that can read the outer scopes' variables, and a variable name
# used in an outer scope cannot be assigned again in an inner one (the definition is refused).
INNER_SCOPE_MAY_REASSIGN_OUTER = False


# --------------------------------------------------------------------------------------------------
# IAM (Service Authorization Reference)
# --------------------------------------------------------------------------------------------------

# botocore service name -> IAM service prefix (SAR, each service's page header "service prefix: …").
IAM_PREFIX: dict[str, str] = {
    "cloudwatch": "cloudwatch",
    "dms": "dms",
    "ecs": "ecs",
    "elbv2": "elasticloadbalancing",
    "events": "events",
    "iam": "iam",
    "kms": "kms",
    "lambda": "lambda",
    "logs": "logs",
    "route53": "route53",
    "scheduler": "scheduler",
    "secretsmanager": "secretsmanager",
    "sns": "sns",
    "stepfunctions": "states",
}

SAR_PAGES: dict[str, str] = {
    "cloudwatch": f"{SAR}/list_amazoncloudwatch.html",
    "dms": f"{SAR}/list_awsdatabasemigrationservice.html",
    "ecs": f"{SAR}/list_amazonelasticcontainerservice.html",
    "elbv2": f"{SAR}/list_elasticloadbalancingv2.html",
    "events": f"{SAR}/list_amazoneventbridge.html",
    "iam": f"{SAR}/list_awsidentityandaccessmanagementiam.html",
    "kms": f"{SAR}/list_awskeymanagementservice.html",
    "lambda": f"{SAR}/list_awslambda.html",
    "logs": f"{SAR}/list_amazoncloudwatchlogs.html",
    "route53": f"{SAR}/list_amazonroute53.html",
    "secretsmanager": f"{SAR}/list_awssecretsmanager.html",
    "sns": f"{SAR}/list_amazonsns.html",
    "stepfunctions": f"{SAR}/list_awsstepfunctions.html",
}

# Resource ARN forms (SAR "Resource types defined by …"); "*" = the action has no resource type.
_ARN = {
    "ecs:cluster": "arn:${Partition}:ecs:${Region}:${Account}:cluster/${ClusterName}",
    "ecs:service": "arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}",
    "ecs:task": "arn:${Partition}:ecs:${Region}:${Account}:task/${ClusterName}/${TaskId}",
    "ecs:task-definition": (
        "arn:${Partition}:ecs:${Region}:${Account}:task-definition/${TaskDefinitionFamilyName}:${TaskDefinitionRevisionNumber}"
    ),
    # DMS names its resources with generated ids, not the identifiers we choose: the ARN can only be
    # narrowed by the resource kind (rep:/endpoint:/task:/subgrp:) and by tag conditions.
    "dms:rep": "arn:${Partition}:dms:${Region}:${Account}:rep:*",
    "dms:endpoint": "arn:${Partition}:dms:${Region}:${Account}:endpoint:*",
    "dms:task": "arn:${Partition}:dms:${Region}:${Account}:task:*",
    "dms:subgrp": "arn:${Partition}:dms:${Region}:${Account}:subgrp:*",
    "route53:hostedzone": "arn:${Partition}:route53:::hostedzone/${Id}",
    "route53:change": "arn:${Partition}:route53:::change/${Id}",
    "secretsmanager:secret": "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}",
    "sns:topic": "arn:${Partition}:sns:${Region}:${Account}:${TopicName}",
    "lambda:function": "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}",
    "states:stateMachine": "arn:${Partition}:states:${Region}:${Account}:stateMachine:${StateMachineName}",
    "events:rule": "arn:${Partition}:events:${Region}:${Account}:rule/${RuleName}",
    "iam:role": "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
    "logs:log-stream": "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
    "logs:log-group": "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}",
    "kms:key": "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
}


@dataclass(frozen=True)
class IamRequirement:
    """One IAM action an API call needs and the resources AWS evaluates it against.

    ``resources``: ARN forms (SAR templates with ``${…}`` placeholders); ``("*",)`` when the action has
    no resource type (it must then be granted on ``*``). ``source``: the SAR page.
    """

    action: str
    resources: tuple[str, ...]
    source: str

    @property
    def resource_level(self) -> bool:
        return self.resources != ("*",)


# (botocore service, operation) -> [(IAM action, resource kinds)]; resource kinds key _ARN, () = "*".
# Verified against the Service Authorization Reference pages in SAR_PAGES, for the calls this project makes.
_IAM: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = {
    # ECS
    ("ecs", "CreateService"): [("ecs:CreateService", ("ecs:service",))],
    ("ecs", "UpdateService"): [("ecs:UpdateService", ("ecs:service",))],
    ("ecs", "DeleteService"): [("ecs:DeleteService", ("ecs:service",))],
    ("ecs", "DescribeServices"): [("ecs:DescribeServices", ("ecs:service",))],
    ("ecs", "ListServices"): [("ecs:ListServices", ())],
    ("ecs", "ListTaskDefinitionFamilies"): [("ecs:ListTaskDefinitionFamilies", ())],
    ("ecs", "ListTaskDefinitions"): [("ecs:ListTaskDefinitions", ())],
    ("ecs", "DescribeTaskDefinition"): [("ecs:DescribeTaskDefinition", ())],
    ("ecs", "DeregisterTaskDefinition"): [("ecs:DeregisterTaskDefinition", ())],
    ("ecs", "RegisterTaskDefinition"): [("ecs:RegisterTaskDefinition", ("ecs:task-definition",))],
    ("ecs", "RunTask"): [("ecs:RunTask", ("ecs:task-definition",))],
    ("ecs", "StopTask"): [("ecs:StopTask", ("ecs:task",))],
    ("ecs", "DescribeTasks"): [("ecs:DescribeTasks", ("ecs:task",))],
    ("ecs", "ListTasks"): [("ecs:ListTasks", ())],
    # DMS
    ("dms", "CreateReplicationSubnetGroup"): [("dms:CreateReplicationSubnetGroup", ("dms:subgrp",))],
    ("dms", "CreateReplicationInstance"): [("dms:CreateReplicationInstance", ("dms:rep",))],
    ("dms", "CreateEndpoint"): [("dms:CreateEndpoint", ("dms:endpoint",))],
    ("dms", "CreateReplicationTask"): [("dms:CreateReplicationTask", ("dms:endpoint", "dms:rep"))],
    ("dms", "TestConnection"): [("dms:TestConnection", ("dms:endpoint", "dms:rep"))],
    ("dms", "StartReplicationTask"): [("dms:StartReplicationTask", ("dms:task",))],
    ("dms", "StopReplicationTask"): [("dms:StopReplicationTask", ("dms:task",))],
    ("dms", "DeleteReplicationTask"): [("dms:DeleteReplicationTask", ("dms:task",))],
    ("dms", "DeleteReplicationInstance"): [("dms:DeleteReplicationInstance", ("dms:rep",))],
    ("dms", "DeleteEndpoint"): [("dms:DeleteEndpoint", ("dms:endpoint",))],
    ("dms", "DeleteReplicationSubnetGroup"): [("dms:DeleteReplicationSubnetGroup", ("dms:subgrp",))],
    ("dms", "DescribeReplicationInstances"): [("dms:DescribeReplicationInstances", ())],
    ("dms", "DescribeEndpoints"): [("dms:DescribeEndpoints", ())],
    ("dms", "DescribeConnections"): [("dms:DescribeConnections", ())],
    ("dms", "DescribeReplicationTasks"): [("dms:DescribeReplicationTasks", ())],
    ("dms", "DescribeReplicationSubnetGroups"): [("dms:DescribeReplicationSubnetGroups", ())],
    # Route 53
    ("route53", "ChangeResourceRecordSets"): [("route53:ChangeResourceRecordSets", ("route53:hostedzone",))],
    ("route53", "ListResourceRecordSets"): [("route53:ListResourceRecordSets", ("route53:hostedzone",))],
    ("route53", "GetHostedZone"): [("route53:GetHostedZone", ("route53:hostedzone",))],
    ("route53", "GetChange"): [("route53:GetChange", ("route53:change",))],
    # Secrets Manager
    **{
        ("secretsmanager", op): [(f"secretsmanager:{op}", ("secretsmanager:secret",))]
        for op in (
            "CreateSecret",
            "DescribeSecret",
            "GetSecretValue",
            "PutSecretValue",
            "DeleteSecret",
            "RestoreSecret",
            "TagResource",
            "UpdateSecret",
        )
    },  # fmt: skip
    # Elastic Load Balancing v2 and CloudWatch: the Describe*/GetMetricStatistics actions have no resource type.
    ("elbv2", "DescribeTargetHealth"): [("elasticloadbalancing:DescribeTargetHealth", ())],
    ("elbv2", "DescribeTargetGroups"): [("elasticloadbalancing:DescribeTargetGroups", ())],
    ("elbv2", "DescribeLoadBalancers"): [("elasticloadbalancing:DescribeLoadBalancers", ())],
    ("cloudwatch", "GetMetricStatistics"): [("cloudwatch:GetMetricStatistics", ())],
    # SNS, Lambda, Step Functions, EventBridge, IAM, CloudWatch Logs, KMS
    ("sns", "Publish"): [("sns:Publish", ("sns:topic",))],
    ("lambda", "Invoke"): [("lambda:InvokeFunction", ("lambda:function",))],
    ("stepfunctions", "StartExecution"): [("states:StartExecution", ("states:stateMachine",))],
    ("stepfunctions", "ListExecutions"): [("states:ListExecutions", ("states:stateMachine",))],
    ("events", "PutRule"): [("events:PutRule", ("events:rule",))],
    ("events", "PutTargets"): [("events:PutTargets", ("events:rule",))],
    ("events", "DescribeRule"): [("events:DescribeRule", ("events:rule",))],
    ("iam", "PassRole"): [("iam:PassRole", ("iam:role",))],
    ("logs", "CreateLogStream"): [("logs:CreateLogStream", ("logs:log-stream",))],
    ("logs", "PutLogEvents"): [("logs:PutLogEvents", ("logs:log-stream",))],
    ("kms", "Decrypt"): [("kms:Decrypt", ("kms:key",))],
    ("kms", "GenerateDataKey"): [("kms:GenerateDataKey", ("kms:key",))],
}


def iam_action_resource_types(action: str) -> tuple[str, ...] | None:
    """The ARN forms an IAM action (``ecs:UpdateService``) accepts, ``("*",)`` when none; None when not in the table."""
    for (_service, _op), rows in _IAM.items():
        for name, kinds in rows:
            if name.lower() == action.lower():
                return tuple(_ARN[k] for k in kinds) if kinds else ("*",)
    return None


def iam_requirements(service: str, operation: str) -> tuple[IamRequirement, ...]:
    """The IAM actions (and resource ARN forms) a call of ``operation`` on ``service`` (botocore names) needs.

    Falls back to ``<prefix>:<Operation>`` on ``*``-or-unknown resources when the operation is not in the
    table (``resources == ()`` then: unknown, not "no resource type").
    """
    source = SAR_PAGES.get(service, f"{SAR}/reference_policies_actions-resources-contextkeys.html")
    rows = _IAM.get((service, operation))
    if rows is None:
        prefix = IAM_PREFIX.get(service, service)
        return (IamRequirement(f"{prefix}:{operation}", (), source),)
    return tuple(IamRequirement(action, tuple(_ARN[k] for k in kinds) if kinds else ("*",), source) for action, kinds in rows)


# What an optimized integration needs of the state machine's role, beyond the service action itself
# (SRC_ECS_IAM: runTask.sync also stops and describes the task and manages the EventBridge rule Step Functions
# uses to learn that the task stopped; it passes the task definition's roles).
OPTIMIZED_INTEGRATION_IAM: dict[str, tuple[tuple[str, str], ...]] = {
    "arn:aws:states:::lambda:invoke": (("lambda:InvokeFunction", _ARN["lambda:function"]),),
    "arn:aws:states:::sns:publish": (("sns:Publish", _ARN["sns:topic"]),),
    "arn:aws:states:::sns:publish.waitForTaskToken": (("sns:Publish", _ARN["sns:topic"]),),
    "arn:aws:states:::ecs:runTask": (("ecs:RunTask", _ARN["ecs:task-definition"]),),
    # SRC_CODEBUILD_IAM: StartBuild, StopBuild and BatchGetBuilds on the project; the EventBridge rule Step
    # Functions manages to learn that the build ended.
    "arn:aws:states:::codebuild:startBuild.sync": (
        ("codebuild:StartBuild", "arn:${Partition}:codebuild:${Region}:${Account}:project/*"),
        ("codebuild:StopBuild", "arn:${Partition}:codebuild:${Region}:${Account}:project/*"),
        ("codebuild:BatchGetBuilds", "arn:${Partition}:codebuild:${Region}:${Account}:project/*"),
        ("events:PutTargets",
         "arn:${Partition}:events:${Region}:${Account}:rule/StepFunctionsGetEventForCodeBuildStartBuildRule"),
        ("events:PutRule",
         "arn:${Partition}:events:${Region}:${Account}:rule/StepFunctionsGetEventForCodeBuildStartBuildRule"),
        ("events:DescribeRule",
         "arn:${Partition}:events:${Region}:${Account}:rule/StepFunctionsGetEventForCodeBuildStartBuildRule"),
    ),
    "arn:aws:states:::ecs:runTask.sync": (
        ("ecs:RunTask", _ARN["ecs:task-definition"]),
        ("ecs:StopTask", "*"),
        ("ecs:DescribeTasks", "*"),
        ("events:PutTargets", "arn:${Partition}:events:${Region}:${Account}:rule/StepFunctionsGetEventsForECSTaskRule"),
        ("events:PutRule", "arn:${Partition}:events:${Region}:${Account}:rule/StepFunctionsGetEventsForECSTaskRule"),
        ("events:DescribeRule", "arn:${Partition}:events:${Region}:${Account}:rule/StepFunctionsGetEventsForECSTaskRule"),
    ),
}
OPTIMIZED_INTEGRATION_IAM_SOURCE: dict[str, str] = {
    "arn:aws:states:::lambda:invoke": SRC_LAMBDA_IAM,
    "arn:aws:states:::sns:publish": SRC_SNS_IAM,
    "arn:aws:states:::sns:publish.waitForTaskToken": SRC_SNS_IAM,
    "arn:aws:states:::ecs:runTask": SRC_ECS_IAM,
    "arn:aws:states:::ecs:runTask.sync": SRC_ECS_IAM,
    "arn:aws:states:::codebuild:startBuild.sync": SRC_CODEBUILD_IAM,
}

# An SNS topic encrypted with the AWS managed key alias/aws/sns cannot receive from EventBridge: the
# key policy of an AWS managed key cannot be changed to let events.amazonaws.com use it; a customer
# managed key whose policy allows the service is needed (SRC_EVENTBRIDGE_SNS, SRC_SNS_SSE).
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
