"""Deploy ``template.yaml`` into the emulated account — the same file ``sam deploy`` ships.

The SAM template is translated with aws-sam-translator (as CloudFormation would), then each
resource the workflow needs is created through the emulated APIs, in dependency order, with its
intrinsic functions resolved: IAM roles, the layer, the functions (registered to run locally from
their ``CodeUri``), log groups, the SNS topic, ECS task definitions, the state machine with its
``DefinitionSubstitutions`` applied to ``statemachine/*.asl.json``, EventBridge rules and
Scheduler schedules. Nothing is defined twice: ARNs, names and environments come from the template.
The landing's types (Landing=create: VPC, ALB, ACM, RDS, ElastiCache, secrets...) are created by
:mod:`.landing`, which also resolves Secrets Manager dynamic references and deletes a stack as
CloudFormation would (``DeletionPolicy`` honoured).
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import engine_paths, landing
from .aws import ACCOUNT_ID, REGION, EmulatedAws
from .patches import local

NO_VALUE = object()


def load_template(path: Path = engine_paths.TEMPLATE) -> dict:
    from samcli.yamlhelper import yaml_parse

    return yaml_parse(path.read_text())


def translate(template: dict, parameters: dict[str, str] | None = None) -> tuple[dict, dict[str, dict]]:
    """SAM -> CloudFormation. Returns (translated template, local sources by logical id)."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator

    ArnGenerator.BOTO_SESSION_REGION_NAME = REGION

    sam = copy.deepcopy(template)
    sources: dict[str, dict] = {}
    root = engine_paths.ROOT
    for logical_id, res in sam.get("Resources", {}).items():
        props = res.get("Properties", {})
        rtype = res.get("Type")
        if rtype == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            sources[logical_id] = {"code": (root / props["CodeUri"]).resolve()}
            props["CodeUri"] = f"s3://rehearsal/{logical_id}"
        elif rtype == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            sources[logical_id] = {"content": (root / props["ContentUri"]).resolve()}
            props["ContentUri"] = f"s3://rehearsal/{logical_id}"
        elif rtype == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            path = (root / props.pop("DefinitionUri")).resolve()
            sources[logical_id] = {"definition": path}
            props["Definition"] = json.loads(path.read_text())
    import boto3

    cfn = Translator(managed_policy_map=None, sam_parser=Parser(), plugins=[],
                     boto_session=boto3.Session(region_name=REGION)).translate(
        sam_template=sam, parameter_values=dict(parameters or {}), get_managed_policy_map=lambda: {})
    return cfn, sources


@dataclass
class Stack:
    name: str
    resources: dict[str, dict] = field(default_factory=dict)  # logical id -> {"type", "ref", "attrs"}
    skipped: dict[str, str] = field(default_factory=dict)     # logical id -> why
    outputs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # every template parameter's value (defaults filled)

    def ref(self, logical_id: str) -> str:
        return self.resources[logical_id]["ref"]

    def attr(self, logical_id: str, name: str) -> str:
        return self.resources[logical_id]["attrs"][name]

    def by_type(self, rtype: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["type"] == rtype}


class Resolver:
    def __init__(self, stack: Stack, parameters: dict[str, Any], conditions: dict[str, Any]) -> None:
        self.stack = stack
        self.parameters = parameters
        self.raw_conditions = conditions
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.raw_conditions[name]))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:  # noqa: C901 - one branch per intrinsic
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.stack.attr(logical, attr)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(m: re.Match) -> str:
                    name = m.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    if name in variables:
                        return str(variables[name])
                    if "." in name:
                        logical, attr = name.split(".", 1)
                        return str(self.stack.attr(logical, attr))
                    return str(self._ref(name))

                return re.sub(r"\$\{([^}]+)\}", sub, text)
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(arg))
            if key == "Fn::Or":
                return any(self.resolve(arg))
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg))
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": self.stack.name,
                  "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack.name}/rehearsal",
                  "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.stack.ref(name)


def _deps(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add((v.split(".")[0]) if isinstance(v, str) else v[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(v, str):
                    found |= _deps(v[1])
            else:
                found |= _deps(v)
    elif isinstance(value, list):
        for v in value:
            found |= _deps(v)
    return found


def _order(resources: dict[str, dict]) -> list[str]:
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in seen or name not in resources:
            return
        if name in path:
            raise ValueError(f"dependency cycle: {' -> '.join(path + (name,))}")
        res = resources[name]
        deps = _deps(res.get("Properties", {})) | set(
            [res["DependsOn"]] if isinstance(res.get("DependsOn"), str) else res.get("DependsOn", []))
        for dep in sorted(deps):
            visit(dep, path + (name,))
        seen.add(name)
        done.append(name)

    for name in resources:
        visit(name)
    return done


def _to_api(props: dict, service: str, operation: str) -> dict:
    """CloudFormation property names -> the boto3 operation's member names (case-insensitive match)."""
    from .services.stepfunctions.models import operation_model

    shape = operation_model(service, operation).input_shape

    def convert(value: Any, shape) -> Any:
        if shape is None:
            return value
        if shape.type_name == "structure" and isinstance(value, dict):
            members = {k.lower(): (k, s) for k, s in shape.members.items()}
            out = {}
            for k, v in value.items():
                if k.lower() in members:
                    name, member = members[k.lower()]
                    out[name] = convert(v, member)
            return out
        if shape.type_name == "list" and isinstance(value, list):
            return [convert(v, shape.member) for v in value]
        if shape.type_name == "integer" and isinstance(value, str) and value.isdigit():
            return int(value)
        if shape.type_name == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if shape.type_name == "string" and isinstance(value, (int, float)):
            return str(value)
        return value

    return convert(props, shape)


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "code runs locally from the project's functions/ directory")
    return buf.getvalue()


def deploy(aws: EmulatedAws, stack_name: str = "heroku2aws", parameters: dict[str, str] | None = None,
           template_path: Path = engine_paths.TEMPLATE, stores: landing.DataStores | None = None) -> Stack:
    """Create the template's resources in the emulated account; returns what was created. ``stores``: where the
    landing's RDS and ElastiCache really run (:class:`.landing.DataStores`; the rehearsal's local servers)."""
    sam = load_template(template_path)
    cfn, sources = translate(sam, parameters)
    params: dict[str, Any] = {}
    for name, spec in (cfn.get("Parameters") or {}).items():
        value = (parameters or {}).get(name, spec.get("Default"))
        if value is None:
            raise ValueError(f"template parameter {name} has no value and no default")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [v for v in value.split(",") if v]
        elif not isinstance(value, list):
            value = str(value)  # a Ref to a parameter is a string, Number ones included
        params[name] = value
    stack = Stack(name=stack_name, parameters=params)
    resolver = Resolver(stack, params, cfn.get("Conditions") or {})
    resources = cfn["Resources"]
    zip_bytes = _empty_zip()
    layer_dirs: dict[str, Path] = {}

    def physical(logical_id: str, limit: int = 64) -> str:
        return f"{stack_name}-{logical_id}"[:limit]

    for logical_id in _order(resources):
        res = resources[logical_id]
        if "Condition" in res and not resolver.condition(res["Condition"]):
            stack.skipped[logical_id] = f"condition {res['Condition']} is false"
            continue
        rtype = res["Type"]
        props = landing.resolve_dynamic(aws, resolver.resolve(res.get("Properties", {})))
        entry: dict[str, Any] = {"type": rtype, "ref": logical_id, "attrs": {}}
        # CloudFormation's default is Delete, but Snapshot for an RDS instance outside a cluster ("DeletionPolicy
        # attribute", CloudFormation User Guide); landing.delete_stack honours it.
        entry["deletion_policy"] = res.get("DeletionPolicy") or (
            "Snapshot" if rtype == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in props else "Delete")
        if rtype == "AWS::IAM::Role":
            name = props.get("RoleName") or physical(logical_id)
            role = aws.client("iam").create_role(
                RoleName=name, Path=props.get("Path", "/"),
                AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})))["Role"]
            for policy in props.get("Policies", []):
                document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
                aws.client("iam").put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                                                  PolicyDocument=json.dumps(document))
            for policy_arn in props.get("ManagedPolicyArns", []):
                aws.client("iam").attach_role_policy(RoleName=name, PolicyArn=policy_arn)
            entry.update(ref=name, attrs={"Arn": role["Arn"], "RoleId": role["RoleId"]})
        elif rtype == "AWS::Lambda::LayerVersion":
            # SAM names the translated layer <LogicalId><hash>.
            base = next((sources[k]["content"] for k in sources
                         if logical_id.startswith(k) and "content" in sources[k]), None)
            out = aws.client("lambda").publish_layer_version(
                LayerName=props.get("LayerName") or physical(logical_id), Content={"ZipFile": zip_bytes},
                CompatibleRuntimes=props.get("CompatibleRuntimes", []))
            arn = out["LayerVersionArn"]
            if base is not None:
                layer_dirs[arn] = base / "python" if (base / "python").is_dir() else base
            entry.update(ref=arn, attrs={"LayerVersionArn": arn})
        elif rtype == "AWS::Lambda::Function":
            name = props.get("FunctionName") or physical(logical_id)
            env = (props.get("Environment") or {}).get("Variables", {})
            out = aws.client("lambda").create_function(
                FunctionName=name, Runtime=props.get("Runtime", "python3.12"), Role=props["Role"],
                Handler=props["Handler"], Code={"ZipFile": zip_bytes}, Timeout=int(props.get("Timeout", 3)),
                MemorySize=int(props.get("MemorySize", 128)), Environment={"Variables": env},
                Layers=props.get("Layers", []))
            code = sources.get(logical_id, {}).get("code")
            if code is None:
                raise ValueError(f"{logical_id}: only functions with a local CodeUri can be rehearsed")
            local.FUNCTIONS[name] = local.LocalFunction(
                name=name, arn=out["FunctionArn"], handler=props["Handler"], code_dir=code,
                layer_dirs=[layer_dirs[arn] for arn in props.get("Layers", []) if arn in layer_dirs],
                environment={k: str(v) for k, v in env.items()}, timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)))
            entry.update(ref=name, attrs={"Arn": out["FunctionArn"]})
        elif rtype == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName") or physical(logical_id, 512)
            aws.client("logs").create_log_group(logGroupName=name)
            entry.update(ref=name, attrs={"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"})
        elif rtype == "AWS::KMS::Key":
            key = aws.client("kms").create_key(Description=props.get("Description", ""),
                                               Policy=json.dumps(props.get("KeyPolicy", {})))["KeyMetadata"]
            entry.update(ref=key["KeyId"], attrs={"Arn": key["Arn"], "KeyId": key["KeyId"]})
        elif rtype == "AWS::ECR::Repository":
            name = props.get("RepositoryName") or physical(logical_id, 256).lower()
            repo = aws.client("ecr").create_repository(repositoryName=name)["repository"]
            entry.update(ref=name, attrs={"Arn": repo["repositoryArn"], "RepositoryUri": repo["repositoryUri"]})
        elif rtype == "AWS::SNS::Topic":
            attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if props.get("KmsMasterKeyId") else {}
            arn = aws.client("sns").create_topic(Name=props.get("TopicName") or physical(logical_id, 256),
                                                 Attributes=attributes)["TopicArn"]
            entry.update(ref=arn, attrs={"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]})
        elif rtype == "AWS::SNS::TopicPolicy":  # the topic's access policy (EventBridge delivery reads it)
            for topic_arn in props.get("Topics", []):
                aws.client("sns").set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy",
                                                       AttributeValue=json.dumps(props["PolicyDocument"]))
            entry.update(ref=logical_id)
        elif rtype == "AWS::SNS::Subscription":
            arn = aws.client("sns").subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                                              Endpoint=props["Endpoint"])["SubscriptionArn"]
            entry.update(ref=arn)
        elif rtype == "AWS::ECS::TaskDefinition":
            args = _to_api(props, "ecs", "register_task_definition")
            args.setdefault("family", physical(logical_id, 255))
            arn = aws.client("ecs").register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]
            entry.update(ref=arn, attrs={"TaskDefinitionArn": arn})
        elif rtype == "AWS::StepFunctions::StateMachine":
            definition = props.get("Definition") or json.loads(props["DefinitionString"])
            text = json.dumps(definition)
            for key, value in (props.get("DefinitionSubstitutions") or {}).items():
                text = text.replace("${" + key + "}", str(value))
            leftover = re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)
            if leftover:
                raise ValueError(f"{logical_id}: DefinitionSubstitutions missing for {sorted(set(leftover))}")
            name = props.get("StateMachineName") or physical(logical_id, 80)
            arn = aws.client("stepfunctions").create_state_machine(
                name=name, definition=text, roleArn=props["RoleArn"],
                type=props.get("StateMachineType", "STANDARD"))["stateMachineArn"]
            entry.update(ref=arn, attrs={"Arn": arn, "Name": name})
        elif rtype == "AWS::Events::Rule":
            name = props.get("Name") or physical(logical_id)
            rule = {"Name": name, "State": props.get("State", "ENABLED")}
            if "EventPattern" in props:
                rule["EventPattern"] = json.dumps(props["EventPattern"])
            if "ScheduleExpression" in props:
                rule["ScheduleExpression"] = props["ScheduleExpression"]
            arn = aws.client("events").put_rule(**rule)["RuleArn"]
            targets = props.get("Targets", [])
            if targets:
                aws.client("events").put_targets(Rule=name, Targets=targets)
            entry.update(ref=name, attrs={"Arn": arn})
        elif rtype == "AWS::CodeBuild::Project":
            # Registered to run locally (patches.local: StartBuild runs the buildspec's build step with its layer).
            import yaml

            args = _to_api(props, "codebuild", "create_project")
            args.setdefault("name", physical(logical_id, 150))
            project = aws.client("codebuild").create_project(**args)["project"]
            env = {v["name"]: str(v["value"]) for v in args["environment"].get("environmentVariables", [])}
            buildspec = yaml.safe_load(args["source"].get("buildspec") or "{}") or {}
            local.BUILD_PROJECTS[project["name"]] = local.LocalBuildProject(
                name=project["name"], arn=project["arn"], service_role=args["serviceRole"], environment=env,
                layer_dirs=[layer_dirs[v] for v in env.values() if v in layer_dirs],
                exported=list((buildspec.get("env") or {}).get("exported-variables") or []),
                timeout_minutes=int(args.get("timeoutInMinutes") or 60))
            entry.update(ref=project["name"], attrs={"Arn": project["arn"]})
        elif rtype == "AWS::Scheduler::Schedule":
            name = props.get("Name") or physical(logical_id)
            args = _to_api(props, "scheduler", "create_schedule")
            args["Name"] = name
            arn = aws.client("scheduler").create_schedule(**args)["ScheduleArn"]
            entry.update(ref=name, attrs={"Arn": arn})
        else:
            made = landing.create(aws, stack, logical_id, rtype, props, stores)
            if made is None:
                stack.skipped[logical_id] = f"{rtype} is not needed by a rehearsal"
                continue
            entry.update(made)
        stack.resources[logical_id] = entry
    for name, spec in (cfn.get("Outputs") or {}).items():
        if "Condition" in spec and not resolver.condition(spec["Condition"]):
            continue
        try:
            stack.outputs[name] = resolver.resolve(spec["Value"])
        except KeyError:
            continue
    return stack
