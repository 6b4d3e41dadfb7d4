"""What AWS authorizes for each operation: the IAM action, the resource ARN(s) and the context keys.

From the Service Authorization Reference ("Actions, resources, and condition keys for <service>"):
the action is ``<service prefix>:<Operation>`` (prefixes: ``states`` for Step Functions, ``dms``,
``elasticloadbalancing`` for ELBv2; Lambda's ``Invoke`` is ``lambda:InvokeFunction``); the resource
is the ARN in the form the reference gives (a secret's ARN *with* its random six-character suffix,
``service/<cluster>/<name>``, ``task-definition/<family>:<revision>``, ``task/<cluster>/<id>``,
``hostedzone/<id>``, ``change/<id>``, DMS's ``rep:`` / ``endpoint:`` / ``task:`` / ``subgrp:``) or
``*`` for the operations that accept no resource-level permission. An operation that hands a role
to a service also needs ``iam:PassRole`` on that role (``iam:PassedToService``), and a create that
carries tags also needs the service's tagging action (``ecs:TagResource`` with ``ecs:CreateAction``,
``dms:AddTagsToResource``).

An operation missing from these tables raises :class:`Unmapped`: the request is refused and the gap
recorded, so the next one is found instead of being allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...aws import ACCOUNT_ID, REGION


class Unmapped(Exception):
    pass


@dataclass
class Check:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


#: boto3 service name -> IAM service prefix, where they differ.
PREFIX = {"stepfunctions": "states", "elbv2": "elasticloadbalancing", "logs": "logs"}
#: IAM action names that differ from the operation name.
ACTION = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeFunction"}


def action_for(service: str, operation: str) -> str:
    return f"{PREFIX.get(service, service)}:{ACTION.get((service, operation), operation)}"


def _arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _tags_context(tags: Any, prefix: str = "aws:RequestTag/") -> dict[str, Any]:
    """``[{"Key", "Value"}]`` / ``[{"key", "value"}]`` / ``{k: v}`` -> request tag context keys."""
    pairs: dict[str, str] = {}
    if isinstance(tags, dict):
        pairs = {str(k): str(v) for k, v in tags.items()}
    elif isinstance(tags, list):
        for tag in tags:
            key = tag.get("Key", tag.get("key"))
            if key is not None:
                pairs[str(key)] = str(tag.get("Value", tag.get("value", "")))
    out: dict[str, Any] = {f"{prefix}{k}": v for k, v in pairs.items()}
    if prefix == "aws:RequestTag/" and pairs:
        out["aws:TagKeys"] = list(pairs)
    return out


def _pass_role(role_arn: str | None, service: str) -> list[Check]:
    if not role_arn:
        return []
    return [Check("iam:PassRole", role_arn, {"iam:PassedToService": service})]


# ----------------------------------------------------------------------------- Secrets Manager

def _secret(secret_id: str) -> tuple[str, dict[str, str]]:
    """(ARN with its random suffix, tags) of a secret named by name, ARN or partial ARN."""
    from moto.secretsmanager.models import secretsmanager_backends

    store = secretsmanager_backends[ACCOUNT_ID][REGION].secrets
    secret = store.get(secret_id) if secret_id in store else None
    if secret is not None:
        tags = {t["Key"]: t["Value"] for t in (getattr(secret, "tags", None) or [])}
        return secret.arn, tags
    if secret_id.startswith("arn:"):
        return secret_id, {}
    return _arn("secretsmanager", f"secret:{secret_id}"), {}


def _secret_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("secretsmanager", operation)
    if operation == "CreateSecret":
        name = params.get("Name", "")
        context = {"secretsmanager:Name": name, **_tags_context(params.get("Tags"))}
        if params.get("KmsKeyId"):
            context["secretsmanager:KmsKeyId"] = params["KmsKeyId"]
        checks = [Check(action, _arn("secretsmanager", f"secret:{name}-??????"), context)]
        if params.get("Tags"):
            checks.append(Check("secretsmanager:TagResource", checks[0].resource, context))
        return checks
    if operation in {"ListSecrets", "GetRandomPassword", "BatchGetSecretValue"}:
        return [Check(action, "*")]
    secret_id = params.get("SecretId")
    if not secret_id:
        raise Unmapped(f"secretsmanager:{operation} without SecretId")
    arn, tags = _secret(secret_id)
    context: dict[str, Any] = {"secretsmanager:SecretId": arn}
    for k, v in tags.items():
        context[f"secretsmanager:ResourceTag/{k}"] = v
        context[f"aws:ResourceTag/{k}"] = v
    if operation == "TagResource":
        context.update(_tags_context(params.get("Tags")))
    return [Check(action, arn, context)]


# ----------------------------------------------------------------------------- ECS

def _ecs():
    from moto.ecs.models import ecs_backends

    return ecs_backends[ACCOUNT_ID][REGION]


def _cluster_name(cluster: str | None) -> str:
    cluster = cluster or "default"
    return cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster


def _task_definition_arn(td: str) -> str:
    if td.startswith("arn:"):
        return td
    if ":" in td:
        return _arn("ecs", f"task-definition/{td}")
    backend = _ecs()
    revisions = backend.task_definitions.get(td) or {}
    active = [r for r, d in revisions.items() if getattr(d, "status", "ACTIVE") == "ACTIVE"]
    if not active:
        return _arn("ecs", f"task-definition/{td}:*")
    return _arn("ecs", f"task-definition/{td}:{max(active)}")


def _task_definition_roles(td_arn: str) -> list[str]:
    try:
        td = _ecs().describe_task_definition(td_arn)
    except Exception:
        return []
    return [r for r in (getattr(td, "task_role_arn", None), getattr(td, "execution_role_arn", None)) if r]


def _service_arn(cluster: str, service: str) -> str:
    return service if service.startswith("arn:") else _arn("ecs", f"service/{cluster}/{service}")


def _task_arn(cluster: str, task: str) -> str:
    return task if task.startswith("arn:") else _arn("ecs", f"task/{cluster}/{task}")


def _ecs_tag_check(resource: str, create_action: str, tags: Any) -> list[Check]:
    if not tags:
        return []
    return [Check("ecs:TagResource", resource, {"ecs:CreateAction": create_action, **_tags_context(tags)})]


_ECS_STAR = {"ListServices", "ListServicesByNamespace", "ListTaskDefinitions", "ListTaskDefinitionFamilies",
             "DescribeTaskDefinition", "DeregisterTaskDefinition", "ListClusters", "ListTasks",
             "CreateCluster", "ListAccountSettings", "DescribeCapacityProviders", "DeleteTaskDefinitions"}


def _ecs_checks(operation: str, params: dict) -> list[Check]:  # noqa: C901 - one branch per operation
    action = action_for("ecs", operation)
    cluster = _cluster_name(params.get("cluster"))
    cluster_ctx = {"ecs:cluster": _arn("ecs", f"cluster/{cluster}")}
    if operation in _ECS_STAR:
        return [Check(action, "*", cluster_ctx if "cluster" in params else {})]
    if operation == "RegisterTaskDefinition":
        family = params.get("family", "")
        revisions = _ecs().task_definitions.get(family) or {}
        arn = _arn("ecs", f"task-definition/{family}:{max(revisions, default=0) + 1}")  # the revision it creates
        checks = [Check(action, arn, _tags_context(params.get("tags")))]
        for role in (params.get("taskRoleArn"), params.get("executionRoleArn")):
            checks += _pass_role(role, "ecs-tasks.amazonaws.com")
        checks += _ecs_tag_check(arn, operation, params.get("tags"))
        return checks
    if operation == "DescribeServices":
        return [Check(action, _service_arn(cluster, s), cluster_ctx) for s in params.get("services") or []]
    if operation in {"UpdateService", "DeleteService"}:
        return [Check(action, _service_arn(cluster, params.get("service", "")), cluster_ctx)]
    if operation == "CreateService":
        arn = _service_arn(cluster, params.get("serviceName", ""))
        checks = [Check(action, arn, {**cluster_ctx, **_tags_context(params.get("tags"))})]
        if params.get("taskDefinition"):
            for role in _task_definition_roles(_task_definition_arn(params["taskDefinition"])):
                checks += _pass_role(role, "ecs-tasks.amazonaws.com")
        checks += _pass_role(params.get("role"), "ecs.amazonaws.com")
        checks += _ecs_tag_check(arn, operation, params.get("tags"))
        return checks
    if operation in {"RunTask", "StartTask"}:
        td_arn = _task_definition_arn(params.get("taskDefinition", ""))
        checks = [Check(action, td_arn, {**cluster_ctx, **_tags_context(params.get("tags"))})]
        overrides = params.get("overrides") or {}
        roles = set(_task_definition_roles(td_arn))
        roles |= {r for r in (overrides.get("taskRoleArn"), overrides.get("executionRoleArn")) if r}
        for role in sorted(roles):
            checks += _pass_role(role, "ecs-tasks.amazonaws.com")
        checks += _ecs_tag_check(_arn("ecs", f"task/{cluster}/*"), operation, params.get("tags"))
        return checks
    if operation in {"DescribeTasks"}:
        return [Check(action, _task_arn(cluster, t), cluster_ctx) for t in params.get("tasks") or []]
    if operation in {"StopTask"}:
        return [Check(action, _task_arn(cluster, params.get("task", "")), cluster_ctx)]
    if operation in {"DescribeClusters"}:
        return [Check(action, _arn("ecs", f"cluster/{_cluster_name(c)}")) for c in params.get("clusters") or
                ["default"]]
    if operation in {"DeleteCluster", "UpdateCluster"}:
        return [Check(action, _arn("ecs", f"cluster/{cluster}"))]
    if operation in {"TagResource", "UntagResource", "ListTagsForResource"}:
        return [Check(action, params.get("resourceArn", ""), _tags_context(params.get("tags")))]
    raise Unmapped(f"ecs:{operation}")


# ----------------------------------------------------------------------------- DMS

def _dms_tags(resource: str, tags: Any) -> list[Check]:
    if not tags:
        return []
    return [Check("dms:AddTagsToResource", resource, _tags_context(tags))]


def _dms_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("dms", operation)
    if operation.startswith("Describe") or operation in {"ListTagsForResource"} and not params.get("ResourceArn"):
        return [Check(action, "*")]
    tags = params.get("Tags")
    if operation == "CreateReplicationSubnetGroup":
        arn = _arn("dms", f"subgrp:{params.get('ReplicationSubnetGroupIdentifier', '')}")
        return [Check(action, arn, _tags_context(tags))] + _dms_tags(arn, tags)
    if operation == "CreateReplicationInstance":
        arn = _arn("dms", f"rep:{params.get('ReplicationInstanceIdentifier', '').upper()}")
        return [Check(action, arn, _tags_context(tags))] + _dms_tags(arn, tags)
    if operation == "CreateEndpoint":
        arn = _arn("dms", f"endpoint:{params.get('EndpointIdentifier', '').upper()}")
        checks = [Check(action, arn, _tags_context(tags))] + _dms_tags(arn, tags)
        roles = {params.get("ServiceAccessRoleArn")}
        for key, value in params.items():
            if key.endswith("Settings") and isinstance(value, dict):
                roles |= {value.get("SecretsManagerAccessRoleArn"), value.get("ServiceAccessRoleArn"),
                          value.get("SecretsManagerOracleAsmAccessRoleArn")}
        for role in sorted(r for r in roles if r):
            checks += _pass_role(role, "dms.amazonaws.com")
        return checks
    if operation == "CreateReplicationTask":  # authorized on the endpoints and the instance it joins
        arn = _arn("dms", f"task:{params.get('ReplicationTaskIdentifier', '').upper()}")
        on = [params.get("SourceEndpointArn", ""), params.get("TargetEndpointArn", ""),
              params.get("ReplicationInstanceArn", "")]
        return [Check(action, r, _tags_context(tags)) for r in on] + _dms_tags(arn, tags)
    if operation == "TestConnection":
        return [Check(action, params.get("EndpointArn", "")), Check(action, params.get("ReplicationInstanceArn", ""))]
    if operation in {"StartReplicationTask", "StopReplicationTask", "DeleteReplicationTask",
                     "ModifyReplicationTask", "StartReplicationTaskAssessment"}:
        return [Check(action, params.get("ReplicationTaskArn", ""))]
    if operation in {"DeleteEndpoint", "ModifyEndpoint", "RefreshSchemas"}:
        return [Check(action, params.get("EndpointArn", ""))]
    if operation in {"DeleteReplicationInstance", "ModifyReplicationInstance", "RebootReplicationInstance"}:
        return [Check(action, params.get("ReplicationInstanceArn", ""))]
    if operation in {"DeleteReplicationSubnetGroup", "ModifyReplicationSubnetGroup"}:
        return [Check(action, _arn("dms", f"subgrp:{params.get('ReplicationSubnetGroupIdentifier', '')}"))]
    if operation in {"AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"}:
        return [Check(action, params.get("ResourceArn", ""), _tags_context(tags))]
    raise Unmapped(f"dms:{operation}")


# ----------------------------------------------------------------------------- Route 53

def _route53_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("route53", operation)
    if operation in {"CreateHostedZone", "ListHostedZones", "ListHostedZonesByName", "GetHostedZoneCount",
                     "ListHealthChecks", "CreateHealthCheck"}:
        return [Check(action, "*")]
    if operation == "GetChange":
        return [Check(action, f"arn:aws:route53:::change/{str(params.get('Id', '')).rsplit('/', 1)[-1]}")]
    zone = params.get("HostedZoneId") or (params.get("Id") if "HostedZone" in operation else None)
    if operation in {"ChangeTagsForResource", "ListTagsForResource"}:
        zone = params.get("ResourceId")
    if zone:
        return [Check(action, f"arn:aws:route53:::hostedzone/{str(zone).rsplit('/', 1)[-1]}")]
    raise Unmapped(f"route53:{operation}")


# ----------------------------------------------------------------------------- SNS, Lambda, Step Functions

def _sns_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("sns", operation)
    if operation in {"ListTopics", "ListSubscriptions", "CheckIfPhoneNumberIsOptedOut"}:
        return [Check(action, "*")]
    if operation == "CreateTopic":
        return [Check(action, _arn("sns", params.get("Name", "")), _tags_context(params.get("Tags")))]
    topic = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
    if topic:
        return [Check(action, topic, _tags_context(params.get("Tags")))]
    if operation in {"Unsubscribe", "GetSubscriptionAttributes", "SetSubscriptionAttributes"}:
        sub = params.get("SubscriptionArn", "")
        return [Check(action, sub.rsplit(":", 1)[0] if sub.count(":") > 5 else sub)]
    raise Unmapped(f"sns:{operation}")


def _lambda_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("lambda", operation)
    if operation in {"ListFunctions", "ListLayers", "ListLayerVersions", "GetAccountSettings", "PublishLayerVersion",
                     "ListEventSourceMappings", "CreateEventSourceMapping"}:
        return [Check(action, "*")]
    name = params.get("FunctionName")
    if not name:
        raise Unmapped(f"lambda:{operation}")
    if not name.startswith("arn:"):
        parts = name.split(":")
        name = _arn("lambda", "function:" + ":".join(parts[-2:] if len(parts) > 1 else parts))
    qualifier = params.get("Qualifier")
    resource = f"{name}:{qualifier}" if qualifier and name.count(":") == 6 else name
    checks = [Check(action, resource)]
    if operation == "CreateFunction":
        checks += _pass_role(params.get("Role"), "lambda.amazonaws.com")
    return checks


def _states_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("stepfunctions", operation)
    if operation in {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines",
                     "ListActivities", "ValidateStateMachineDefinition", "TestState"}:
        return [Check(action, "*")]
    if operation == "CreateStateMachine":
        arn = _arn("states", f"stateMachine:{params.get('name', '')}")
        return [Check(action, arn, _tags_context(params.get("tags")))] + _pass_role(
            params.get("roleArn"), "states.amazonaws.com")
    arn = params.get("stateMachineArn") or params.get("executionArn") or params.get("resourceArn")
    if arn:
        return [Check(action, arn)]
    raise Unmapped(f"states:{operation}")


# ----------------------------------------------------------------------------- ELB, CloudWatch, Logs, KMS

def _elbv2_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("elbv2", operation)
    if operation.startswith("Describe"):
        return [Check(action, "*")]
    for key in ("TargetGroupArn", "LoadBalancerArn", "ListenerArn", "RuleArn"):
        if params.get(key):
            return [Check(action, params[key])]
    raise Unmapped(f"elasticloadbalancing:{operation}")


def _cloudwatch_checks(operation: str, params: dict) -> list[Check]:
    if operation in {"GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricData", "DescribeAlarms"}:
        return [Check(action_for("cloudwatch", operation), "*")]
    raise Unmapped(f"cloudwatch:{operation}")


def _logs_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("logs", operation)
    group = params.get("logGroupName")
    if operation in {"CreateLogStream", "PutLogEvents"} and group:
        return [Check(action, _arn("logs", f"log-group:{group}:log-stream:{params.get('logStreamName', '')}"))]
    if operation.startswith("Describe") and not group or operation in {"CreateLogDelivery", "ListLogDeliveries"}:
        return [Check(action, "*")]
    if group:
        return [Check(action, _arn("logs", f"log-group:{group}"))]
    raise Unmapped(f"logs:{operation}")


def _kms_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("kms", operation)
    if operation in {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom"}:
        return [Check(action, "*")]
    key = params.get("KeyId")
    if key:
        return [Check(action, key if key.startswith("arn:") else _arn("kms", f"key/{key}"))]
    raise Unmapped(f"kms:{operation}")


def _sts_checks(operation: str, params: dict) -> list[Check]:
    if operation == "GetCallerIdentity":
        return []  # needs no permission (IAM User Guide)
    raise Unmapped(f"sts:{operation}")


def _ecr_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("ecr", operation)
    if operation in {"GetAuthorizationToken", "DescribeRegistry", "CreateRepository"} and not params.get(
            "repositoryName") or operation == "GetAuthorizationToken":
        return [Check(action, "*")]
    if operation == "DescribeRepositories":
        names = params.get("repositoryNames") or []
        return [Check(action, _arn("ecr", f"repository/{n}")) for n in names] or [Check(action, "*")]
    name = params.get("repositoryName")
    if name:
        return [Check(action, _arn("ecr", f"repository/{name}", account=params.get("registryId") or ACCOUNT_ID))]
    raise Unmapped(f"ecr:{operation}")


def _codebuild_checks(operation: str, params: dict) -> list[Check]:
    """Service Authorization Reference, AWS CodeBuild: StartBuild / StopBuild / BatchGetBuilds act on the project
    (a build ID is ``<project>:<uuid>``); ListProjects and ListBuilds accept no resource."""
    action = action_for("codebuild", operation)
    if operation in {"ListProjects", "ListBuilds", "ListCuratedEnvironmentImages"}:
        return [Check(action, "*")]
    if operation in {"StartBuild", "CreateProject", "DeleteProject", "UpdateProject"}:
        name = params.get("projectName") or params.get("name") or ""
        return [Check(action, _arn("codebuild", f"project/{name}"))]
    if operation in {"BatchGetProjects"}:
        return [Check(action, _arn("codebuild", f"project/{n}")) for n in params.get("names") or []]
    ids = params.get("ids") or ([params["id"]] if params.get("id") else [])
    if ids:
        return [Check(action, _arn("codebuild", f"project/{str(i).rsplit(':', 1)[0].rsplit('/', 1)[-1]}")) for i in ids]
    raise Unmapped(f"codebuild:{operation}")


def _scheduler_checks(operation: str, params: dict) -> list[Check]:
    """Service Authorization Reference, Amazon EventBridge Scheduler: a schedule is
    ``schedule/<group>/<name>`` (group ``default`` when none is named); CreateSchedule and UpdateSchedule hand the
    target's role to the service (``iam:PassRole``, ``iam:PassedToService`` scheduler.amazonaws.com); the List
    operations accept no resource."""
    action = action_for("scheduler", operation)
    if operation in {"ListSchedules", "ListScheduleGroups"}:
        return [Check(action, "*")]
    if operation in {"CreateSchedule", "UpdateSchedule", "GetSchedule", "DeleteSchedule"}:
        arn = _arn("scheduler", f"schedule/{params.get('GroupName') or 'default'}/{params.get('Name', '')}")
        checks = [Check(action, arn)]
        if operation in {"CreateSchedule", "UpdateSchedule"}:
            checks += _pass_role((params.get("Target") or {}).get("RoleArn"), "scheduler.amazonaws.com")
        return checks
    if operation in {"CreateScheduleGroup", "GetScheduleGroup", "DeleteScheduleGroup"}:
        return [Check(action, _arn("scheduler", f"schedule-group/{params.get('Name', '')}"),
                      _tags_context(params.get("Tags")))]
    raise Unmapped(f"scheduler:{operation}")


def _iam_role_arn(name: str) -> str:
    from moto.iam.models import iam_backends

    try:
        return iam_backends[ACCOUNT_ID]["aws"].get_role(name).arn
    except Exception:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"


def _iam_checks(operation: str, params: dict) -> list[Check]:
    action = action_for("iam", operation)
    if operation in {"ListRoles", "ListPolicies", "GetAccountSummary"}:
        return [Check(action, "*")]
    if params.get("RoleName"):
        return [Check(action, _iam_role_arn(params["RoleName"]))]
    if params.get("PolicyArn"):
        return [Check(action, params["PolicyArn"])]
    raise Unmapped(f"iam:{operation}")


CHECKS: dict[str, Callable[[str, dict], list[Check]]] = {
    "ecr": _ecr_checks, "iam": _iam_checks, "codebuild": _codebuild_checks,
    "secretsmanager": _secret_checks, "ecs": _ecs_checks, "dms": _dms_checks, "route53": _route53_checks,
    "sns": _sns_checks, "lambda": _lambda_checks, "stepfunctions": _states_checks, "elbv2": _elbv2_checks,
    "cloudwatch": _cloudwatch_checks, "logs": _logs_checks, "kms": _kms_checks, "sts": _sts_checks,
    "scheduler": _scheduler_checks,
}


def resource_tags(arn: str) -> dict[str, str]:
    """The tags of an existing resource, for ``aws:ResourceTag/<key>`` (empty when it has none or is new)."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return {}
    service, resource = parts[2], parts[5]
    try:
        if service == "iam" and resource.startswith("role/"):
            from moto.iam.models import iam_backends

            role = iam_backends[ACCOUNT_ID]["aws"].get_role(resource.rsplit("/", 1)[-1])
            return {t["Key"]: t["Value"] for t in role.tags.values()}
        if service == "dms":
            from moto.dms.models import dms_backends

            tagger = dms_backends[ACCOUNT_ID][REGION].tagger
            tags = tagger.get_tag_dict_for_resource(arn)
            if not tags and resource.startswith("subgrp:"):  # moto tags subnet groups by identifier
                tags = tagger.get_tag_dict_for_resource(resource.split(":", 1)[1])
            return dict(tags)
        if service == "ecs" and not resource.endswith("*"):
            return {t["key"]: t["value"] for t in _ecs().list_tags_for_resource(arn) or []}
        if service == "sns":
            from moto.sns.models import sns_backends

            return dict(sns_backends[ACCOUNT_ID][REGION].topics[arn]._tags)
    except Exception:  # a resource that does not exist (yet) has no tags
        return {}
    return {}


def checks_for(service: str, operation: str, params: dict) -> list[Check]:
    """The checks AWS makes for one request; raises :class:`Unmapped` for an operation it does not know."""
    handler = CHECKS.get(service)
    if handler is None:
        raise Unmapped(f"no IAM resource mapping for the service {service!r}")
    checks = handler(operation, params)
    for check in checks:
        if not check.resource:
            raise Unmapped(f"{check.action}: the request names no resource")
        if check.resource != "*" and not any(k.lower().startswith("aws:resourcetag/") for k in check.context):
            prefix = check.action.split(":")[0]
            for key, value in resource_tags(check.resource).items():
                check.context[f"aws:ResourceTag/{key}"] = value
                check.context[f"{prefix}:ResourceTag/{key}"] = value
    return checks
