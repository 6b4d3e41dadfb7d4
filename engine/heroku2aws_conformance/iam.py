"""Every principal of the template against the calls it makes, as AWS evaluates them.

The SAM template is translated with aws-sam-translator (``heroku2aws_rehearsal.deploy``), intrinsics are
resolved with sample values, and for each principal the calls it makes are listed:

- the state machine's role: the ASL's ``aws-sdk:`` tasks and what each optimized integration needs
  (``rules.OPTIMIZED_INTEGRATION_IAM``, the task definition's roles to pass, the topic's KMS key);
- each function's role: an AST scan of ``functions/<step>/app.py`` and the shared package modules it
  imports (``boto3.client("svc")`` / helper-made clients, ``.method(…)`` and ``get_paginator("…")``);
- each ECS task role (the ``python -m heroku2aws.tasks.…`` module) and execution role (logs, image, secrets);
- the DMS secrets access role, the scheduler role, EventBridge -> SNS delivery (topic policy, topic key).

A call is granted when an Allow statement names its IAM action and a resource pattern that can match
the ARN form AWS evaluates (``rules.iam_requirements``). Grants broader than needed are findings too.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.model
from botocore import xform_name

from . import asl, rules
from .finding import ASL, FUNCTIONS, LAYER, README, ROOT, TEMPLATE, Finding, rel

PARTITION, REGION, ACCOUNT, STACK = "aws", "us-east-1", "123456789012", "heroku2aws"
SAMPLE_PARAMETERS = {"AppName": "sample-app", "HostedZoneId": "Z0SAMPLEZONE"}

SRC_MANAGED = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference"
SRC_TASK_EXECUTION = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html"
SRC_DMS_SECRETS = "https://docs.aws.amazon.com/dms/latest/userguide/security_iam_secretsmanager.html"
SRC_SCHEDULER_ROLE = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role"
SRC_SNS_KMS_PUBLISHER = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
SRC_EVENTBRIDGE_SNS_POLICY = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions"
)

# AWS managed policies the template attaches, as far as the checked calls go (AWS Managed Policy Reference).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
    ],
    "AWSLambdaVPCAccessExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "AmazonECSTaskExecutionRolePolicy": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


# ---------------------------------------------------------------------------------------- template model


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: str  # JSON of the Condition ("" when none)
    policy: str


@dataclass
class Principal:
    logical_id: str
    services: tuple[str, ...]
    statements: list[Statement] = field(default_factory=list)
    unknown_managed: list[str] = field(default_factory=list)


class Resolver:
    """Intrinsic functions -> strings, with sample pseudo parameters and parameter values."""

    def __init__(self, cfn: dict) -> None:
        self.resources: dict[str, dict] = cfn.get("Resources", {})
        self.params = {
            name: str(SAMPLE_PARAMETERS.get(name, p.get("Default", f"sample-{name.lower()}")))
            for name, p in cfn.get("Parameters", {}).items()
        }

    def name(self, lid: str) -> str:
        props = self.resources.get(lid, {}).get("Properties", {})
        for key in (
            "RoleName",
            "FunctionName",
            "TopicName",
            "Name",
            "StateMachineName",
            "Family",
            "LogGroupName",
            "RepositoryName",
        ):
            if key in props:
                return str(self(props[key]))
        return f"{STACK}-{lid}"

    def ref(self, lid: str) -> str:
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if lid in pseudo:
            return pseudo[lid]
        if lid in self.params:
            return self.params[lid]
        rtype = self.resources.get(lid, {}).get("Type", "")
        name = self.name(lid)
        return {
            "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
            "AWS::ECS::TaskDefinition": f"arn:{PARTITION}:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:1",
            "AWS::KMS::Key": f"key-{lid}",
        }.get(rtype, name)

    def getatt(self, lid: str, attr: str) -> str:
        rtype = self.resources.get(lid, {}).get("Type", "")
        name = self.name(lid)
        table = {
            ("AWS::IAM::Role", "Arn"): f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            ("AWS::Lambda::Function", "Arn"): f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}",
            ("AWS::SNS::Topic", "TopicName"): name,
            ("AWS::SNS::Topic", "TopicArn"): self.ref(lid),
            ("AWS::KMS::Key", "Arn"): f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/key-{lid}",
            ("AWS::Logs::LogGroup", "Arn"): f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            ("AWS::Events::Rule", "Arn"): f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{name}",
            ("AWS::ECR::Repository", "RepositoryUri"): f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}",
            ("AWS::ECR::Repository", "Arn"): f"arn:{PARTITION}:ecr:{REGION}:{ACCOUNT}:repository/{name}",
            ("AWS::StepFunctions::StateMachine", "Name"): name,
            ("AWS::CodeBuild::Project", "Arn"): f"arn:{PARTITION}:codebuild:{REGION}:{ACCOUNT}:project/{name}",
        }
        return table.get((rtype, attr), f"{lid}.{attr}")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(lid, attr)
            if fn == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

                def sub(m: re.Match) -> str:
                    key = m[1]
                    if key in local:
                        return str(self(local[key]))
                    if "." in key and not key.startswith("AWS::"):
                        lid, attr = key.split(".", 1)
                        return self.getatt(lid, attr)
                    return str(self.ref(key))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if fn == "Fn::If":
                return self(arg[1])
            if fn == "Fn::Join":
                return str(arg[0]).join(str(self(v)) for v in self(arg[1]))
            if fn == "Fn::Select":
                return self(arg[1])[int(arg[0])]
        return {k: self(v) for k, v in value.items()}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statements(doc: dict, policy: str, resolve: Resolver) -> Iterator[Statement]:
    for st in _as_list(doc.get("Statement", [])):
        st = resolve(st)
        yield Statement(
            st.get("Effect", "Allow"),
            tuple(str(a) for a in _as_list(st.get("Action", []))),
            tuple(str(r) for r in _as_list(st.get("Resource", []))),
            json.dumps(st.get("Condition"), sort_keys=True) if st.get("Condition") else "",
            policy,
        )


def principals(cfn: dict, resolve: Resolver) -> dict[str, Principal]:
    out: dict[str, Principal] = {}
    for lid, res in cfn.get("Resources", {}).items():
        if res.get("Type") != "AWS::IAM::Role":
            continue
        props = res.get("Properties", {})
        services: list[str] = []
        for st in _as_list(props.get("AssumeRolePolicyDocument", {}).get("Statement", [])):
            services += [str(s) for s in _as_list(resolve(st.get("Principal", {}).get("Service", [])))]
        p = Principal(lid, tuple(services))
        for pol in props.get("Policies", []):
            p.statements += _statements(pol.get("PolicyDocument", {}), pol.get("PolicyName", "inline"), resolve)
        for arn in props.get("ManagedPolicyArns", []):
            name = str(resolve(arn)).rsplit("/", 1)[-1]
            if name in MANAGED_POLICIES:
                p.statements += _statements({"Statement": MANAGED_POLICIES[name]}, name, resolve)
            else:
                p.unknown_managed.append(name)
        out[lid] = p
    return out


# ---------------------------------------------------------------------------------------- matching


def fill(template: str) -> str:
    """A SAR ARN template as a glob: partition/region/account filled in, every other ``${…}`` a ``*``."""
    out = template.replace("${Partition}", PARTITION).replace("${Region}", REGION).replace("${Account}", ACCOUNT)
    return re.sub(r"\$\{[^}]+\}", "*", out)


def globs_intersect(a: str, b: str) -> bool:
    """Can one string match both ``*``/``?`` globs? (IAM resource patterns against ARN forms.)"""

    @functools.cache
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*" and (go(i + 1, j) or (j < len(b) and go(i, j + 1))):
            return True
        if j < len(b) and b[j] == "*" and (go(i, j + 1) or (i < len(a) and go(i + 1, j))):
            return True
        if i < len(a) and j < len(b) and a[i] != "*" and b[j] != "*":
            return (a[i] == b[j] or "?" in (a[i], b[j])) and go(i + 1, j + 1)
        return False

    return go(0, 0)


def _action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def granted(p: Principal, action: str, resource: str) -> bool:
    """Does an Allow statement of ``p`` grant ``action`` on a pattern that can match ``resource`` (a glob)?"""
    return any(
        st.effect == "Allow"
        and any(_action_matches(a, action) for a in st.actions)
        and any(globs_intersect(r, resource) for r in st.resources)
        for st in p.statements
    )


@dataclass(frozen=True)
class Call:
    action: str
    resource: str  # glob of the ARN AWS evaluates
    why: str  # the code or state that makes the call
    source: str


def calls_for(service: str, operation: str, why: str, concrete: str | None = None) -> list[Call]:
    out = []
    for req in rules.iam_requirements(service, operation):
        if concrete is not None and req.resource_level:
            resources: tuple[str, ...] = (concrete,)
        else:
            resources = req.resources or ("*",)
        for r in resources:
            out.append(Call(req.action, fill(r), why, req.source))
    return out


# ---------------------------------------------------------------------------------------- code scan


@functools.cache
def _snake_to_op(service: str) -> dict[str, str]:
    return {xform_name(op): op for op in rules.service_model(service).operation_names}


def _boto_service(call: ast.Call, helpers: set[str]) -> str | None:
    """``boto3.client("svc")`` / ``session.client("svc")`` / ``helper("svc")`` -> "svc"."""
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
    if name == "client" or name in helpers:
        if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
            return call.args[0].value
        for kw in call.keywords:
            if kw.arg == "service_name" and isinstance(kw.value, ast.Constant):
                return str(kw.value.value)
    return None


def _client_helpers(tree: ast.AST) -> set[str]:
    """Functions that return ``boto3.client(<their parameter>)``: ``_client("ecs")`` makes an ECS client."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Call):
                    f = sub.value.func
                    if (
                        isinstance(f, ast.Attribute)
                        and f.attr == "client"
                        and sub.value.args
                        and isinstance(sub.value.args[0], ast.Name)
                    ):
                        out.add(node.name)
    return out


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text())
    except (SyntaxError, UnicodeDecodeError, OSError):
        return None


def _reachable(tree: ast.Module, wanted: set[str] | None) -> list[ast.AST]:
    """The module's statements that run for the ``wanted`` names (None: the whole module).

    Module-level statements other than definitions always run (imports for their side effects, registrations);
    a definition is in when it is wanted or referenced by a name from one that is.
    """
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    top = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    if wanted is None:
        whole: list[ast.AST] = list(tree.body)
        return whole
    todo = [n for n in wanted if n in defs]
    todo += [x.id for stmt in top for x in ast.walk(stmt) if isinstance(x, ast.Name) and x.id in defs]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [x.id for x in ast.walk(defs[name]) if isinstance(x, ast.Name) and x.id in defs and x.id not in seen]
    picked: list[ast.AST] = [*top, *(defs[n] for n in sorted(seen))]
    return picked


def scan_calls(path: Path, wanted: set[str] | None = None) -> set[tuple[str, str, str]]:
    """(botocore service, operation, "file:line") for every AWS API call the module makes (for ``wanted`` names)."""
    tree = _parse(path)
    if tree is None:
        return set()
    nodes = _reachable(tree, wanted)
    helpers = _client_helpers(tree)
    found: set[tuple[str, str, str]] = set()

    def clients_in(node: ast.AST) -> dict[str, str]:
        names: dict[str, str] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign | ast.AnnAssign) and sub.value is not None:
                svc = next((s for c in ast.walk(sub.value) if isinstance(c, ast.Call) and (s := _boto_service(c, helpers))), None)
                if svc:
                    for t in sub.targets if isinstance(sub, ast.Assign) else [sub.target]:
                        key = t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else None
                        if key:
                            names[key] = svc
        return names

    module_clients: dict[str, str] = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            module_clients |= clients_in(stmt)
    scopes: list[ast.AST] = []
    for node in nodes:
        scopes += [n for n in ast.walk(node) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] or [node]
    for scope in scopes:
        local = {**module_clients, **clients_in(scope)}
        for node in ast.walk(scope):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            svc = None
            if isinstance(target, ast.Name):
                svc = local.get(target.id)
            elif isinstance(target, ast.Attribute):
                svc = local.get(target.attr)
            elif isinstance(target, ast.Call):
                svc = _boto_service(target, helpers)
            if svc is None:
                continue
            try:
                ops = _snake_to_op(svc)
            except Exception:  # noqa: S112 - not a botocore service name
                continue
            method = node.func.attr
            if method in {"get_paginator", "get_waiter"} and node.args and isinstance(node.args[0], ast.Constant):
                method = str(node.args[0].value)
            if method in ops:
                found.add((svc, ops[method], f"{rel(path)}:{node.lineno}"))
    return found


def _module_path(parts: list[str], base: Path) -> Path | None:
    target = base.joinpath(*parts)
    for cand in (target.with_suffix(".py"), target / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path, layer: Path, wanted: set[str] | None) -> list[tuple[Path, set[str] | None]]:
    """The shared-package modules the reachable part of ``path`` imports, each with the names it takes (None: all)."""
    tree = _parse(path)
    if tree is None:
        return []
    pkg = layer / "heroku2aws"
    out: list[tuple[Path, set[str] | None]] = []
    for node in (n for stmt in _reachable(tree, wanted) for n in ast.walk(stmt)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "heroku2aws" and (m := _module_path(a.name.split(".")[1:], pkg)):
                    out.append((m, None))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == "heroku2aws":
                base, parts = pkg, node.module.split(".")[1:]
            else:
                continue
            for a in node.names:
                sub = _module_path([*parts, a.name], base)
                if sub is not None:  # ``from . import compensations``: a whole module
                    out.append((sub, None))
                elif (mod := _module_path(parts, base)) is not None:
                    out.append((mod, {a.name}))
    return out


def code_calls(entry: Iterable[Path], layer: Path = LAYER) -> list[Call]:
    """What the entry modules (a handler, a task module) and what they use of the shared package call."""
    wanted: dict[Path, set[str] | None] = {}
    todo: list[tuple[Path, set[str] | None]] = [(p, None) for p in entry]
    while todo:
        path, names = todo.pop()
        if not path.is_file():
            continue
        before = wanted.get(path, set())
        if path in wanted and (before is None or (names is not None and names <= before)):
            continue
        wanted[path] = None if names is None or before is None else before | names
        todo += _imports(path, layer, wanted[path])
    out: list[Call] = []
    for path in sorted(wanted):
        for svc, op, where in sorted(scan_calls(path, wanted[path])):
            out += calls_for(svc, op, where)
    return out


# ---------------------------------------------------------------------------------------- required calls


def state_machine_calls(definition: dict, substitutions: dict[str, str], cfn: dict, resolve: Resolver) -> list[Call]:
    """What the state machine's role needs for the ASL's tasks."""
    out: list[Call] = []

    def subst(v: Any) -> Any:
        if isinstance(v, str):
            return re.sub(r"\$\{(\w+)\}", lambda m: substitutions.get(m[1], m[0]), v)
        return v

    for path, state, _scope in asl.walk_states(definition.get("States", {})):
        if state.get("Type") != "Task":
            continue
        resource = rules._strip_partition(str(state.get("Resource", "")))
        raw = state.get("Arguments")
        args: dict[str, Any] = raw if isinstance(raw, dict) else {}
        m = asl._AWS_SDK.match(resource)
        why = f"state {path!r}"
        if m:
            service = rules.botocore_service(m[1])
            op = rules.operation_name(m[1], m[2])
            if service and op:
                out += calls_for(service, op, why)
            continue
        for action, arn in rules.OPTIMIZED_INTEGRATION_IAM.get(resource, ()):
            concrete = None
            if action == "lambda:InvokeFunction":
                concrete = subst(args.get("FunctionName"))
            elif action == "sns:Publish":
                concrete = subst(args.get("TopicArn"))
            elif action == "ecs:RunTask":
                concrete = subst(args.get("TaskDefinition"))
            elif action.startswith("codebuild:"):  # the project by name (SRC_CODEBUILD: ProjectName)
                name = subst(args.get("ProjectName"))
                if isinstance(name, str) and not asl.is_jsonata(name) and "${" not in name:
                    concrete = name if name.startswith("arn:") else fill(arn).replace("project/*", f"project/{name}")
            res = concrete if isinstance(concrete, str) and not asl.is_jsonata(concrete) and "${" not in concrete else fill(arn)
            out.append(Call(action, res, why, rules.OPTIMIZED_INTEGRATION_IAM_SOURCE[resource]))
        if resource.startswith("arn:aws:states:::ecs:runTask"):
            out += _pass_task_roles(subst(args.get("TaskDefinition")), cfn, resolve, why)
        if resource.startswith("arn:aws:states:::sns:publish"):
            out += _topic_key_calls(subst(args.get("TopicArn")), cfn, resolve, why)
    return out


def _by_ref(cfn: dict, resolve: Resolver, value: Any, rtype: str) -> str | None:
    for lid, res in cfn.get("Resources", {}).items():
        if res.get("Type") == rtype and resolve.ref(lid) == value:
            return lid
    return None


def _pass_task_roles(task_def: Any, cfn: dict, resolve: Resolver, why: str) -> list[Call]:
    lid = _by_ref(cfn, resolve, task_def, "AWS::ECS::TaskDefinition")
    if lid is None:
        return []
    props = cfn["Resources"][lid].get("Properties", {})
    return [
        Call("iam:PassRole", str(resolve(props[k])), f"{why} runs {lid}", rules.SRC_ECS_IAM)
        for k in ("TaskRoleArn", "ExecutionRoleArn")
        if k in props
    ]


def _topic_key_calls(topic: Any, cfn: dict, resolve: Resolver, why: str) -> list[Call]:
    lid = _by_ref(cfn, resolve, topic, "AWS::SNS::Topic")
    if lid is None:
        return []
    key = cfn["Resources"][lid].get("Properties", {}).get("KmsMasterKeyId")
    if key is None:
        return []
    key_lid = key.get("Ref") if isinstance(key, dict) else None
    arn = resolve.getatt(key_lid, "Arn") if key_lid else fill(rules._ARN["kms:key"])
    return [
        Call(a, arn, f"{why} publishes to encrypted {lid}", SRC_SNS_KMS_PUBLISHER) for a in ("kms:GenerateDataKey", "kms:Decrypt")
    ]


# ---------------------------------------------------------------------------------------- checks


def check_principal(p: Principal, calls: list[Call], file: str) -> list[Finding]:
    out = []
    for call in calls:
        if not granted(p, call.action, call.resource):
            out.append(
                Finding(
                    file,
                    p.logical_id,
                    "iam.missing",
                    f"{call.action} on {call.resource} is not granted (called by {call.why})",
                    call.source,
                )
            )
    return out


def _dms_all_kinds(resource: str) -> bool:
    return re.fullmatch(rf"arn:{PARTITION}:dms:[^:]*:[^:]*:\*", resource) is not None


def check_broad(p: Principal, file: str, readme_prefix: str | None) -> list[Finding]:
    out: list[Finding] = []
    for st in p.statements:
        if st.effect != "Allow" or st.policy in MANAGED_POLICIES:  # AWS's policies are not ours to narrow
            continue
        for action in st.actions:
            for res in st.resources:
                low = action.lower()
                if low == "iam:passrole" and (res == "*" or res.endswith(":role/*")):
                    out.append(
                        Finding(
                            file,
                            p.logical_id,
                            "iam.broad-passrole",
                            f"iam:PassRole on {res}: name the roles (a condition does not narrow the ARN)",
                            rules.SAR_PAGES["iam"],
                        )
                    )
                    continue
                forms = rules.iam_action_resource_types(action)
                if res == "*" and forms is not None and forms != ("*",):
                    out.append(
                        Finding(
                            file,
                            p.logical_id,
                            "iam.broad-star",
                            f"{action} on *: the action takes {', '.join(fill(f) for f in forms)}",
                            rules.SAR_PAGES.get(action.split(":")[0], rules.SAR),
                        )
                    )
                if low.startswith(("dms:create", "dms:delete")) and _dms_all_kinds(res):
                    out.append(
                        Finding(
                            file,
                            p.logical_id,
                            "iam.broad-dms",
                            f"{action} on {res}: every DMS resource of the account; name the kind"
                            f" ({fill(forms[0]) if forms and forms != ('*',) else 'rep:*, endpoint:*, task:*, subgrp:*'})",
                            rules.SAR_PAGES["dms"],
                        )
                    )
                if low == "route53:changeresourcerecordsets" and res.endswith("hostedzone/*"):
                    out.append(
                        Finding(
                            file,
                            p.logical_id,
                            "iam.broad-route53",
                            f"{action} on {res}: every hosted zone of the account; name the zone",
                            rules.SAR_PAGES["route53"],
                        )
                    )
                if (
                    readme_prefix
                    and low.split(":")[0] == "secretsmanager"
                    and low.split(":")[1] in {"createsecret", "putsecretvalue", "deletesecret", "updatesecret", "restoresecret"}
                    and globs_intersect(res, f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{readme_prefix}x")
                ):
                    out.append(
                        Finding(
                            file,
                            p.logical_id,
                            "iam.secret-prefix",
                            f"{action} on {res}: the README has users keep their own input secrets under"
                            f" {readme_prefix}*; this role can overwrite or delete them",
                            rules.SAR_PAGES["secretsmanager"],
                        )
                    )
    return out


def readme_secret_prefix(text: str, app: str) -> str | None:
    """The prefix the README tells users to keep their input secrets under (``heroku2aws/<app>/``), if any."""
    for line in text.splitlines():
        m = re.search(r"heroku2aws/(?:<app>|\$\{AppName\}|<app-name>)/", line)
        if m and "secret" in line.lower():
            return f"heroku2aws/{app}/"
    return None


def check_eventbridge_sns(cfn: dict, resolve: Resolver, file: str) -> list[Finding]:
    out: list[Finding] = []
    resources = cfn.get("Resources", {})
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Events::Rule":
            continue
        for target in res.get("Properties", {}).get("Targets", []):
            topic_lid = _by_ref(cfn, resolve, resolve(target.get("Arn")), "AWS::SNS::Topic")
            if topic_lid is None:
                continue
            topic_arn = resolve.ref(topic_lid)
            allowed = False
            for pol in resources.values():
                if pol.get("Type") != "AWS::SNS::TopicPolicy":
                    continue
                props = resolve(pol.get("Properties", {}))
                if topic_arn not in _as_list(props.get("Topics", [])):
                    continue
                for st in _as_list(props.get("PolicyDocument", {}).get("Statement", [])):
                    svc = (
                        _as_list((st.get("Principal") or {}).get("Service", [])) if isinstance(st.get("Principal"), dict) else []
                    )
                    if (
                        st.get("Effect") == "Allow"
                        and "events.amazonaws.com" in svc
                        and any(_action_matches(a, "sns:Publish") for a in _as_list(st.get("Action", [])))
                    ):
                        allowed = True
            if not allowed:
                out.append(
                    Finding(
                        file,
                        f"{lid} -> {topic_lid}",
                        "iam.eventbridge-sns-policy",
                        "no topic policy lets events.amazonaws.com sns:Publish to the topic",
                        SRC_EVENTBRIDGE_SNS_POLICY,
                    )
                )
            key = resources[topic_lid].get("Properties", {}).get("KmsMasterKeyId")
            key_value = resolve(key) if key is not None else None
            if key_value == rules.AWS_MANAGED_SNS_KEY or (isinstance(key_value, str) and key_value.endswith(":alias/aws/sns")):
                out.append(
                    Finding(
                        file,
                        f"{lid} -> {topic_lid}",
                        "iam.eventbridge-sns-kms",
                        "the topic is encrypted with the AWS managed alias/aws/sns key, whose policy cannot let"
                        " EventBridge use it: events are dropped; use a customer managed key that allows"
                        " events.amazonaws.com kms:Decrypt and kms:GenerateDataKey*",
                        rules.SRC_EVENTBRIDGE_SNS,
                    )
                )
            elif isinstance(key, dict) and "Ref" in key and resources.get(key["Ref"], {}).get("Type") == "AWS::KMS::Key":
                doc = resolve(resources[key["Ref"]].get("Properties", {}).get("KeyPolicy", {}))
                need = {"kms:Decrypt", "kms:GenerateDataKey"}
                for st in _as_list(doc.get("Statement", [])):
                    princ = st.get("Principal") if isinstance(st.get("Principal"), dict) else {}
                    if st.get("Effect") == "Allow" and "events.amazonaws.com" in _as_list(princ.get("Service", [])):
                        need = {n for n in need if not any(_action_matches(a, n) for a in _as_list(st.get("Action", [])))}
                if need:
                    out.append(
                        Finding(
                            file,
                            f"{lid} -> {topic_lid}",
                            "iam.eventbridge-sns-kms",
                            f"the key policy of {key['Ref']} does not let events.amazonaws.com {', '.join(sorted(need))}",
                            rules.SRC_EVENTBRIDGE_SNS,
                        )
                    )
    return out


def check_template(
    template: dict,
    definition: dict | None = None,
    *,
    file: str = rel(TEMPLATE),
    readme: str | None = None,
    layer: Path = LAYER,
    root: Path = ROOT,
) -> list[Finding]:
    """Every IAM finding for a SAM template (parsed), with the ASL of its state machine."""
    from heroku2aws_rehearsal.deploy import translate

    cfn, sources = translate(template)
    resolve = Resolver(cfn)
    roles = principals(cfn, resolve)
    resources = cfn.get("Resources", {})
    out: list[Finding] = []
    app = resolve.params.get("AppName", "app")
    prefix = readme_secret_prefix(readme if readme is not None else (README.read_text() if README.exists() else ""), app)

    def role_of(value: Any) -> str | None:
        arn = resolve(value)
        return next((lid for lid in roles if resolve.getatt(lid, "Arn") == arn), None)

    called: dict[str, list[Call]] = {lid: [] for lid in roles}
    for lid, res in resources.items():
        props = res.get("Properties", {})
        rtype = res.get("Type")
        if rtype == "AWS::StepFunctions::StateMachine":
            role = role_of(props.get("RoleArn"))
            defn = definition if definition is not None else props.get("Definition")
            if defn is None and lid in sources:
                defn = json.loads(Path(sources[lid]["definition"]).read_text())
            subs = {k: str(resolve(v)) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
            if role and defn:
                called[role] += state_machine_calls(defn, subs, cfn, resolve)
        elif rtype == "AWS::Lambda::Function":
            role = role_of(props.get("Role"))
            code = sources.get(lid, {}).get("code")
            if role and code:
                handler_module = str(props.get("Handler", "app.lambda_handler")).rsplit(".", 1)[0]
                called[role] += code_calls([Path(code) / f"{handler_module.replace('.', '/')}.py"], layer)
        elif rtype == "AWS::ECS::TaskDefinition":
            task_role, exec_role = role_of(props.get("TaskRoleArn")), role_of(props.get("ExecutionRoleArn"))
            for container in props.get("ContainerDefinitions", []):
                command = [str(c) for c in resolve(container.get("Command", []))]
                if task_role and "-m" in command:
                    module = command[command.index("-m") + 1]
                    target = layer.joinpath(*module.split("."))
                    called[task_role] += code_calls([target.with_suffix(".py")], layer)
                if exec_role:
                    why = f"ECS starting {lid}"
                    log = (container.get("LogConfiguration") or {}).get("Options", {}).get("awslogs-group")
                    if log is not None:
                        group = resolve(log)
                        for a in ("logs:CreateLogStream", "logs:PutLogEvents"):
                            called[exec_role].append(
                                Call(
                                    a,
                                    f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:*",
                                    why,
                                    SRC_TASK_EXECUTION,
                                )
                            )
                    for secret in container.get("Secrets", []):
                        called[exec_role].append(
                            Call("secretsmanager:GetSecretValue", str(resolve(secret.get("ValueFrom"))), why, SRC_TASK_EXECUTION)
                        )
        elif rtype == "AWS::Scheduler::Schedule":
            target = props.get("Target", {})
            role = role_of(target.get("RoleArn"))
            arn = str(resolve(target.get("Arn")))
            if role and ":states:" in arn:
                called[role].append(Call("states:StartExecution", arn, f"schedule {lid}", SRC_SCHEDULER_ROLE))
    # The role DMS assumes to read the endpoints' secrets (passed as SecretsManagerAccessRoleArn).
    for lid, p in roles.items():
        if any(
            s.startswith("dms.") and s != "dms.amazonaws.com" or s == f"dms.{REGION}.amazonaws.com" for s in p.services
        ) and any("secretsmanager" in a.lower() for st in p.statements for a in st.actions):
            called[lid].append(
                Call(
                    "secretsmanager:GetSecretValue",
                    fill(rules._ARN["secretsmanager:secret"]),
                    "DMS reading an endpoint's secret",
                    SRC_DMS_SECRETS,
                )
            )
    for lid, p in roles.items():
        out += check_principal(p, _dedupe(called[lid]), file)
        out += check_broad(p, file, prefix)
    out += check_eventbridge_sns(cfn, resolve, file)
    return sorted(set(out), key=lambda f: (f.where, f.rule, f.message))


def _dedupe(calls: list[Call]) -> list[Call]:
    seen: dict[tuple[str, str], Call] = {}
    for c in calls:
        seen.setdefault((c.action, c.resource), c)
    return list(seen.values())


def check(template_path: Path = TEMPLATE, asl_path: Path = ASL) -> list[Finding]:
    from heroku2aws_rehearsal.deploy import load_template

    return check_template(load_template(template_path), json.loads(asl_path.read_text()), file=rel(template_path))


_ = (FUNCTIONS, botocore.model)  # imported for callers that build paths / shapes alongside
