"""Stage 3, "Plan the ECS services": the Procfile (or the Heroku formation) as ready-made ECS requests.

Event (built by the ASL)::

    {"input": <normalised execution input>,
     "plan": <preflight output; only plan["heroku"]["formation"] is read>,
     "config": <import_config output; "secret_arn" and "imported" are read>,
     "execution_id": "<execution ARN>"}

Return (every request in the PascalCase Step Functions' ``aws-sdk:ecs:*`` integrations take)::

    {"release": <RegisterTaskDefinition arguments> | null,
     "release_run": <RunTask arguments without TaskDefinition> | null,
     "services": [{"type": "web",
                   "task_definition": <RegisterTaskDefinition arguments, Secrets left empty>,
                   "service": <CreateService arguments without TaskDefinition>}, ...],
     "secrets": {"arn": "<config secret ARN>", "names": [KEY, ...]},
     "warnings": ["..."]}

The container ``Secrets`` (one entry per config var, the same in every task definition) are listed once, as
``secrets``: the ASL builds each task definition's ``Secrets`` from it when it registers one
(:data:`SECRETS_EXPRESSION`). Written out in each of up to 20 task definitions they made the result grow with
process types x config vars: 20 types and 100 vars were 426 KB, over Step Functions' 256 KiB for a task's result
(``States.DataLimitExceeded``, a terminal error no Catch sees, so nothing was rolled back). What still grows with
the config vars is one task definition, the input of "Register the task definition": :func:`check_payloads`
refuses (``InvalidInput``, and preflight first) a plan whose largest task definition would not fit a state.

RegisterTaskDefinition arguments::

    {"Family": "<app>-<type>", "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc",
     "Cpu": "256", "Memory": "512", "ExecutionRoleArn": "...", "TaskRoleArn": "..." (when given),
     "ContainerDefinitions": [{"Name": "<type>", "Image": "...", "Command": [...], "Essential": true,
                               "StopTimeout": 30,
                               "Environment": [{"Name": "PORT", "Value": "5000"}] (web only, else []),
                               "Secrets": [] (the ASL fills in [{"Name": KEY, "ValueFrom": "<arn>:KEY::"}, ...]),
                               "PortMappings": [{"ContainerPort": 5000, "Protocol": "tcp"}] (web only),
                               "LogConfiguration": {"LogDriver": "awslogs", "Options": {...}}}],
     "Tags": [{"Key": ..., "Value": ...}, ...]}

CreateService arguments (the ASL merges in ``TaskDefinition``)::

    {"Cluster": "<cluster ARN>", "ServiceName": "<app>-<type>", "DesiredCount": n, "LaunchType": "FARGATE",
     "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": [...], "SecurityGroups": [...],
                                                      "AssignPublicIp": "ENABLED" | "DISABLED"}},
     "LoadBalancers": [{"TargetGroupArn", "ContainerName": "web", "ContainerPort"}] (web only),
     "HealthCheckGracePeriodSeconds": 60 (web only),
     "DeploymentConfiguration": {"DeploymentCircuitBreaker": {"Enable": true, "Rollback": true},
                                 "MinimumHealthyPercent": 100, "MaximumPercent": 200},
     "Tags": [...], "EnableECSManagedTags": true, "PropagateTags": "SERVICE"}

Rules:

- Process types and commands come from ``input.ecs.procfile`` (real Procfile syntax: ``name: command``
  lines, ``#`` comments, blank lines; a duplicate or invalid name is an error) or, without one, from
  the formation's commands. Sizes and quantities always come from the formation; a Procfile type the
  formation lacks runs at quantity 0 on ``standard-1x`` (as a freshly deployed Heroku type does).
- ``web`` listens on ``input.ecs.port`` (env ``PORT``) behind the input's target group, at least 1 task.
  Every other type is a service without a load balancer. ``release`` is a task definition run once
  before the services (``release_run``), never a service; it takes the formation's ``release`` size,
  else web's, else ``standard-1x``.
- Every key of the config secret (``config.imported``: the Heroku vars plus DATABASE_URL / REDIS_URL) is
  a container ``Secrets`` entry — never a plain environment value.
- Commands run as Heroku runs them, whatever the image (:func:`container_command`): the container runs
  ``/bin/bash -c`` :data:`PROCESS_WRAPPER`, which starts the Procfile command under bash after the login
  sequence of a dyno (``/etc/profile``, ``.profile.d/*.sh``, ``.profile`` from the app directory), in the background
  in its own process group, and forwards SIGTERM (and INT, HUP) to that whole group; ``StopTimeout`` is
  Heroku's 30-second grace before the SIGKILL. Sources: Dev Center "Dyno Startup Behavior"
  (https://devcenter.heroku.com/articles/dyno-startup-behavior: a bash shell runs ``$HOME/.profile`` before the
  command), ".profile.d Scripts" (https://devcenter.heroku.com/articles/profiled: sourced after the config
  vars, bash, ``*.sh``), "Dynos and the Dyno Manager" (https://devcenter.heroku.com/articles/dynos#shutdown:
  SIGTERM to all processes of the dyno, SIGKILL 30 seconds later).
- Everything is tagged as :func:`heroku2aws.contracts.names.tags` says: ``heroku2aws:app=<app>`` (what
  rollback looks for), ``app``, ``heroku2aws:managed`` and ``heroku2aws:execution``; families and services are
  named :func:`heroku2aws.contracts.names.ecs_name` (``<app>-<type>``).

Dyno sizes become Fargate sizes (CPU units / MiB) by :mod:`heroku2aws.contracts.sizes` (the README's table):
the published Heroku memory rounded up to a valid Fargate combination, except where Fargate's limits cap it
(noted); Fir sizes ``dyno-<N>c-<M>gb`` map to the smallest Fargate size with N vCPU and M GB; the input's
``ecs.dyno_sizes`` overrides any entry. A formation entry's size is its ``dyno_size.name`` (the Platform API
schema's; the older ``size`` is deprecated and read only without it), and a Procfile type matches its
formation entry by name, or by the name Heroku's Fir generation gives it (lower case, ``_`` as ``-``).

Errors: :class:`~heroku2aws.contracts.errors.InvalidInput` for a Procfile that does not parse, an unknown dyno size,
or a config secret key ECS cannot take. Preflight runs the same checks first (as ``PreflightFailed``).

Environment: ``ECS_LOG_GROUP`` (optional) — the log group the containers write to; without it
``/heroku2aws/<app>/services``, created by the awslogs driver (``awslogs-create-group``), which then
needs ``logs:CreateLogGroup`` on the execution role. ``AWS_REGION`` for the awslogs region.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..contracts import names, sizes
from ..contracts.errors import InvalidInput
from ..contracts.input import ExecutionInput
from ..contracts.results import PlannedService, PlanServicesResult, ServiceSecrets
from ..obs import get_logger

log = get_logger("plan_services")

__all__ = [
    "DYNO_SIZES",
    "MAX_STATE_PAYLOAD_BYTES",
    "SECRETS_EXPRESSION",
    "MAX_PROCESS_TYPES",
    "PROCESS_WRAPPER",
    "STOP_TIMEOUT_SECONDS",
    "ProcessType",
    "container_command",
    "dyno_to_fargate",
    "build_plan",
    "check_payloads",
    "expanded_task_definition",
    "fargate_size",
    "login_script",
    "parse_procfile",
    "plan_services",
    "process_types",
]

BASH = "/bin/bash"
#: Heroku's grace between SIGTERM and SIGKILL (Dev Center "Dynos and the Dyno Manager", Shutdown); ECS waits a
#: container's ``stopTimeout`` (Fargate: at most 120 s) before its SIGKILL.
STOP_TIMEOUT_SECONDS = 30

#: What the ECS container runs (``/bin/bash -c PROCESS_WRAPPER <type> <command>``, PID 1 of the task). ECS stops
#: a task with SIGTERM to PID 1 only; a shell that merely runs the command (``sh -c``: dash stays PID 1 and
#: passes nothing on) or ``initProcessEnabled`` (docker's init, tini without ``-g``, signals its direct child
#: only: a ``bash -c`` child dies and the processes it started are orphaned, unsignalled, until the SIGKILL)
#: would not reach every process of the command, which Heroku's SIGTERM does. So the wrapper runs the command
#: in the background with job control on (its own process group), forwards TERM/INT/HUP to the whole group,
#: waits for it and exits with its status (the release task's status included).
#:
#: The command itself runs in a bash of its own, ``bash -c "<prelude>\n<command>"``, the prelude being the login
#: sequence Heroku's runtime performs, made explicit so that its order holds whatever HOME the image has
#: (``bash --login`` would source the image user's ``~/.profile`` *before* ``.profile.d``): ``/etc/profile``;
#: the image's PATH first again (a distribution's /etc/profile may reset PATH); HOME set to the app directory
#: when there is a slug (Heroku's HOME is /app); ``./.profile.d/*.sh``; ``./.profile`` — all in the shell that
#: runs the command, so variables they set without ``export`` are seen by it, as on Heroku. The command follows
#: verbatim (``exec``, ``[[ ]]``, ``&>``, ``wait -n``, ``${VAR:-x}`` are bash's).
#: The app directory is ``$HEROKU2AWS_APP_DIR`` (default ``/app``, where Heroku buildpacks put the slug) when it
#: holds ``.profile.d`` or ``.profile``; otherwise the image's WORKDIR.
PROCESS_WRAPPER = r"""# heroku2aws: run one Procfile command as Heroku runs a dyno's ($1 is the command).
app="${HEROKU2AWS_APP_DIR:-/app}"
if [ -d "$app/.profile.d" ] || [ -f "$app/.profile" ]; then
  cd "$app" || exit 1
  export HEROKU2AWS_HOME="$PWD"
fi
export HEROKU2AWS_IMAGE_PATH="$PATH"
prelude='if [ -r /etc/profile ]; then . /etc/profile; fi
if [ -n "${HEROKU2AWS_IMAGE_PATH:-}" ]; then PATH="$HEROKU2AWS_IMAGE_PATH:$PATH"; fi
if [ -n "${HEROKU2AWS_HOME:-}" ]; then HOME="$HEROKU2AWS_HOME"; export HOME; fi
unset HEROKU2AWS_IMAGE_PATH HEROKU2AWS_HOME
for __h2a_f in ./.profile.d/*.sh; do if [ -r "$__h2a_f" ]; then . "$__h2a_f"; fi; done
unset __h2a_f
if [ -r ./.profile ]; then . ./.profile; fi'
child= pending=
forward() { if [ -n "$child" ]; then kill -"$1" -- "-$child" 2>/dev/null; else pending="$1"; fi; }
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
set -m
/bin/bash -c "$prelude"$'\n'"$1" "$0" &
child=$!
set +m
if [ -n "$pending" ]; then forward "$pending"; fi
while :; do
  wait "$child"
  status=$?
  if ! kill -0 "$child" 2>/dev/null; then break; fi
done
exit "$status"
"""
WEB = "web"
RELEASE = "release"
HEALTH_CHECK_GRACE_SECONDS = 60
DEFAULT_SIZE = sizes.DEFAULT_SIZE
DYNO_SIZES = sizes.DYNO_SIZES
FARGATE_MEMORY = sizes.FARGATE_MEMORY
fargate_size = sizes.fargate_size

_PROCESS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
#: Heroku's own Procfile line format (``name: command``).
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProcessType(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    command: str
    quantity: int = 0
    size: str = DEFAULT_SIZE


# ------------------------------------------------------------------------------ sizes


def dyno_to_fargate(size: str | None, overrides: Mapping[str, Any] | None = None) -> tuple[int, int, str]:
    """``(cpu units, memory MiB, note)`` for a Heroku dyno size (the user's ``ecs.dyno_sizes`` first, then
    :data:`DYNO_SIZES`, then the Fir rule); ``InvalidInput`` when unknown."""
    found = sizes.lookup(size, overrides)
    if found is None:
        raise InvalidInput(f"unknown dyno size {size!r}: known sizes are {', '.join(sorted(DYNO_SIZES))}, "
                           "dyno-<N>c-<M>gb, or a name given in ecs.dyno_sizes")
    return found


# ------------------------------------------------------------------------------ Procfile


def parse_procfile(text: str) -> dict[str, str]:
    """``{process type: command}`` from a Procfile's text, in file order.

    Blank lines and ``#`` comment lines are skipped. Any other line must be ``name: command`` with a
    name of letters, digits, ``_`` and ``-``; a duplicate name is an error (Heroku would silently
    keep one of them). Errors name the line number and the process type, never the command.
    """
    types: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _PROCFILE_LINE.match(line)
        if not m:
            name = line.split(":", 1)[0].strip() if ":" in line else ""
            if name and not _PROCESS_NAME.match(name):
                raise InvalidInput(f"ecs.procfile line {number}: invalid process type name (use letters, digits, "
                                   "'_' and '-')")
            raise InvalidInput(f"ecs.procfile line {number}: not a 'name: command' line")
        name, command = m.group(1), m.group(2).strip()
        if not _PROCESS_NAME.match(name):
            raise InvalidInput(f"ecs.procfile line {number}: process type name longer than 60 characters")
        if name in types:
            raise InvalidInput(f"ecs.procfile line {number}: process type {name!r} is defined twice")
        types[name] = command
    if not types:
        raise InvalidInput("ecs.procfile defines no process type")
    return types


#: The Map states over the services run once per process type; this cap keeps the worst-case history of an
#: execution under Step Functions' 25,000 events (``heroku2aws plan`` prints the bound, a test proves it).
MAX_PROCESS_TYPES = 20


def _formation_for(commands: dict[str, str], formation: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each Procfile type's formation entry: the same name, else the same name as Heroku's Fir generation
    normalises it (lower case, ``_`` as ``-``: Procfile ``worker_beat`` is formation ``worker-beat``)."""
    exact = {str(f["type"]): f for f in formation if f.get("type")}
    normalised = {sizes.normalise_process_type(t): f for t, f in exact.items()}
    return {t: exact.get(t) or normalised.get(sizes.normalise_process_type(t)) or {} for t in commands}


def process_types(procfile: str | None, formation: list[dict[str, Any]],
                  dyno_sizes: Mapping[str, Any] | None = None) -> tuple[list[ProcessType], list[str]]:
    """The process types to run (release included) and warnings. A formation entry's size is its ``dyno_size``
    name (the schema's), else its deprecated ``size``; ``dyno_sizes`` are the user's table overrides."""
    warnings: list[str] = []
    formation = [f for f in formation or [] if f.get("type")]
    if procfile is not None and procfile.strip():
        commands = parse_procfile(procfile)
        matched = {id(f) for f in _formation_for(commands, formation).values() if f}
        ignored = sorted(str(f["type"]) for f in formation if id(f) not in matched)
        if ignored:
            warnings.append(f"formation types not in the Procfile are not migrated: {', '.join(ignored)}")
    else:
        commands = {}
        for f in sorted(formation, key=lambda f: str(f["type"])):  # Heroku lists in id order: sort by type
            t = str(f["type"])
            if not _PROCESS_NAME.match(t):
                raise InvalidInput(f"formation process type {t!r} is not a valid name")
            if not (f.get("command") or "").strip():
                raise InvalidInput(f"formation process type {t!r} has no command: give ecs.procfile")
            commands[t] = str(f["command"]).strip()
        if not commands:
            raise InvalidInput("no process types: the Heroku formation is empty and ecs.procfile is not given")
        warnings.append("no Procfile given: commands come from the Heroku formation, and no release phase is run")
    if len(commands) > MAX_PROCESS_TYPES:
        raise InvalidInput(f"{len(commands)} process types: at most {MAX_PROCESS_TYPES} can be migrated (each is an ECS "
                           "service the workflow polls, and an execution's history holds at most 25,000 events)")
    by_type = _formation_for(commands, formation)
    out: list[ProcessType] = []
    web_size = sizes.dyno_size_of(by_type.get(WEB) or {}) or DEFAULT_SIZE
    for t, command in commands.items():
        f = by_type[t]
        if t == RELEASE:
            size = sizes.dyno_size_of(f) or web_size
            quantity = 1
        else:
            size = sizes.dyno_size_of(f) or DEFAULT_SIZE
            quantity = int(f.get("quantity") or 0)
            if t == WEB:
                quantity = max(quantity, 1)
            if not f and t != WEB:
                warnings.append(f"process type {t!r} is not in the Heroku formation: created with 0 tasks")
        dyno_to_fargate(size, dyno_sizes)  # unknown size -> InvalidInput before anything is built
        out.append(ProcessType(type=t, command=command, quantity=quantity, size=str(size)))
    return out, warnings


def container_command(command: str, process_type: str = "process") -> list[str]:
    """A Procfile command as the container's Command: the wrapper under bash (see :data:`PROCESS_WRAPPER`)."""
    return [BASH, "-c", PROCESS_WRAPPER, process_type, command]


def login_script(command: str) -> str:
    """The script the wrapper gives ``bash -c`` for ``command`` (for checks such as ``bash -n``)."""
    prelude = PROCESS_WRAPPER.split("prelude='", 1)[1].split("'\n", 1)[0]
    return f"{prelude}\n{command}"


# ------------------------------------------------------------------------------ requests


def _secrets(secret_arn: str, keys: list[str]) -> list[dict[str, str]]:
    bad = [k for k in keys if not _ENV_NAME.match(k)]
    if bad:
        raise InvalidInput(f"config secret keys ECS cannot pass as environment variables: {', '.join(sorted(bad))}")
    return [{"Name": k, "ValueFrom": f"{secret_arn}:{k}::"} for k in sorted(keys)]


def _log_configuration(app: str, process: str) -> dict[str, Any]:
    group = os.environ.get("ECS_LOG_GROUP")
    options = {
        "awslogs-group": group or names.services_log_group(app),
        "awslogs-region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "awslogs-stream-prefix": process,
    }
    if not group:
        options["awslogs-create-group"] = "true"
    return {"LogDriver": "awslogs", "Options": options}


def _task_definition(cfg: ExecutionInput, proc: ProcessType, tags: list[dict[str, str]]) -> dict[str, Any]:
    app = cfg.heroku.app
    cpu, memory, _ = dyno_to_fargate(proc.size, cfg.ecs.dyno_sizes)
    container: dict[str, Any] = {
        "Name": proc.type,
        "Image": cfg.ecs.image,
        "Command": container_command(proc.command, proc.type),
        "Essential": True,
        "StopTimeout": STOP_TIMEOUT_SECONDS,
        "Environment": [{"Name": "PORT", "Value": str(cfg.ecs.port)}] if proc.type == WEB else [],
        "Secrets": [],  # filled in by the ASL from the result's "secrets" (SECRETS_EXPRESSION)
        "LogConfiguration": _log_configuration(app, proc.type),
    }
    if proc.type == WEB:
        container["PortMappings"] = [{"ContainerPort": cfg.ecs.port, "Protocol": "tcp"}]
    td: dict[str, Any] = {
        "Family": names.ecs_name(app, proc.type),
        "RequiresCompatibilities": ["FARGATE"],
        "NetworkMode": "awsvpc",
        "Cpu": str(cpu),
        "Memory": str(memory),
        "ExecutionRoleArn": cfg.ecs.execution_role_arn,
        "ContainerDefinitions": [container],
        "Tags": tags,
    }
    if cfg.ecs.task_role_arn:
        td["TaskRoleArn"] = cfg.ecs.task_role_arn
    return td


def _network(cfg: ExecutionInput) -> dict[str, Any]:
    return {"AwsvpcConfiguration": {
        "Subnets": list(cfg.ecs.subnets),
        "SecurityGroups": list(cfg.ecs.security_groups),
        "AssignPublicIp": "ENABLED" if cfg.ecs.assign_public_ip else "DISABLED",
    }}


def _service(cfg: ExecutionInput, proc: ProcessType, tags: list[dict[str, str]]) -> dict[str, Any]:
    svc: dict[str, Any] = {
        "Cluster": cfg.ecs.cluster_arn,
        "ServiceName": names.ecs_name(cfg.heroku.app, proc.type),
        "DesiredCount": proc.quantity,
        "LaunchType": "FARGATE",
        "NetworkConfiguration": _network(cfg),
        "DeploymentConfiguration": {
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
            "MinimumHealthyPercent": 100,
            "MaximumPercent": 200,
        },
        "Tags": tags,
        "EnableECSManagedTags": True,
        "PropagateTags": "SERVICE",
    }
    if proc.type == WEB:
        svc["LoadBalancers"] = [{"TargetGroupArn": cfg.load_balancer.target_group_arn,
                                 "ContainerName": WEB, "ContainerPort": cfg.ecs.port}]
        svc["HealthCheckGracePeriodSeconds"] = HEALTH_CHECK_GRACE_SECONDS
    return svc


#: Step Functions' quota on a state's input or output and a task's result: "256 KiB of data as a UTF-8 encoded
#: string" (developer guide, "Step Functions service quotas",
#: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). Over it the state fails with
#: ``States.DataLimitExceeded``, which no Catch handles (concepts-error-handling.html).
MAX_STATE_PAYLOAD_BYTES = 256 * 1024

#: How the ASL's "Register the task definition" / "Register the release task definition" build their Arguments:
#: the planned task definition (``$td``) with its container's ``Secrets`` made from ``$services.secrets``.
#: :func:`expanded_task_definition` is the same in Python (tests hold them equal).
SECRETS_EXPRESSION = ("$merge([$td, {'ContainerDefinitions': [$merge([$td.ContainerDefinitions[0], {'Secrets': "
                      "[$map($services.secrets.names, function($n) {{'Name': $n, 'ValueFrom': $services.secrets.arn "
                      "& ':' & $n & '::'}})]}])]}])")


def expanded_task_definition(td: dict[str, Any], secret_arn: str, keys: list[str]) -> dict[str, Any]:
    """A planned task definition with its container's ``Secrets``, as the ASL registers it."""
    container = {**td["ContainerDefinitions"][0], "Secrets": _secrets(secret_arn, keys)}
    return {**td, "ContainerDefinitions": [container]}


def _payload_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def check_payloads(result: PlanServicesResult) -> None:
    """``InvalidInput`` when the plan, or a task definition the ASL registers from it, would not fit a state."""
    size = _payload_bytes(result.model_dump(mode="json"))
    if size > MAX_STATE_PAYLOAD_BYTES:
        raise InvalidInput(f"the ECS plan is {size} bytes, over Step Functions' {MAX_STATE_PAYLOAD_BYTES}-byte payload "
                           f"quota: fewer process types (now {len(result.services) + bool(result.release)})")
    keys = result.secrets.names
    planned = [result.release] if result.release else []
    planned += [s.task_definition for s in result.services]
    for td in planned:
        size = _payload_bytes(expanded_task_definition(td, result.secrets.arn, keys))
        if size > MAX_STATE_PAYLOAD_BYTES:
            raise InvalidInput(
                f"task definition {td['Family']} would be {size} bytes with one ECS secret per config var "
                f"({len(keys)} vars, {sum(map(len, keys))} bytes of names), over Step Functions' "
                f"{MAX_STATE_PAYLOAD_BYTES}-byte payload quota for the state that registers it: remove unused config "
                "vars, or combine several into one")


def build_plan(cfg: ExecutionInput, formation: list[dict[str, Any]], secret_arn: str, keys: list[str],
               execution_id: str) -> PlanServicesResult:
    """The ECS requests for every process type, checked against the payload quota (no logging: preflight uses it)."""
    types, warnings = process_types(cfg.ecs.procfile, formation, cfg.ecs.dyno_sizes)
    if not any(p.type == WEB for p in types):
        warnings.append("no web process type: nothing is registered in the target group, so the health check "
                        "and the traffic shift cannot pass")
    tags = names.tags(cfg.heroku.app, execution_id)
    _secrets(secret_arn, keys)  # a name ECS cannot take -> InvalidInput
    for proc in types:
        note = dyno_to_fargate(proc.size, cfg.ecs.dyno_sizes)[2]
        if note:
            warnings.append(f"{proc.type} ({proc.size}): {note}")
    release = next((p for p in types if p.type == RELEASE), None)
    services = [PlannedService(type=p.type, task_definition=_task_definition(cfg, p, tags),
                               service=_service(cfg, p, tags))
                for p in types if p.type != RELEASE]
    release_td = _task_definition(cfg, release, tags) if release else None
    release_run = None
    if release:
        release_run = {"Cluster": cfg.ecs.cluster_arn, "LaunchType": "FARGATE", "Count": 1,
                       "NetworkConfiguration": _network(cfg), "StartedBy": "heroku2aws-release",
                       "Tags": tags, "EnableECSManagedTags": True, "PropagateTags": "TASK_DEFINITION"}
    result = PlanServicesResult(release=release_td, release_run=release_run, services=services,
                                secrets=ServiceSecrets(arn=secret_arn, names=sorted(keys)), warnings=warnings)
    check_payloads(result)
    return result


def plan_services(cfg: ExecutionInput, plan: dict[str, Any], config: dict[str, Any], execution_id: str
                  ) -> PlanServicesResult:
    """The ECS requests for every process type (see the module docstring for the shape)."""
    secret_arn = config.get("secret_arn")
    keys = config.get("imported")
    if not isinstance(secret_arn, str) or ":secretsmanager:" not in secret_arn:
        raise InvalidInput("config.secret_arn: the import_config result's secret ARN is missing")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InvalidInput("config.imported: the import_config result's list of names is missing")
    formation = ((plan or {}).get("heroku") or {}).get("formation") or []
    result = build_plan(cfg, formation, secret_arn, keys, execution_id)
    if cfg.scheduler.jobs:
        result = result.model_copy(update={"scheduler": scheduled_jobs(cfg, result)})
    log.info("ECS services planned", extra={"services": [s.service["ServiceName"] for s in result.services],
                                            "release": bool(result.release), "config_vars": len(keys),
                                            "warnings": result.warnings})
    return result


# ------------------------------------------------------------------------------ Heroku Scheduler's jobs

#: What a scheduled job's task runs when a schedule gives no command (never: each schedule overrides it).
NO_JOB_COMMAND = "echo 'heroku2aws: a scheduled job runs with the command its schedule gives' >&2; exit 64"
SCHEDULER = "scheduler"


def scheduled_jobs(cfg: ExecutionInput, result: PlanServicesResult) -> dict[str, Any]:
    """Heroku Scheduler's jobs as EventBridge Scheduler schedules running one task each.

    One task definition ``<app>-scheduler`` (the app's image, config vars and logs, as the processes'; its size the
    smallest job's) and one schedule ``h2a-<app>.<job>`` per job, created DISABLED (enabled at the switch). The
    schedule's target is ECS RunTask on the app's cluster and network (EcsParameters), and its ``Input`` is the
    RunTask ``overrides``: the job's command as the container's command (under the same wrapper as the processes,
    so it starts as Heroku starts a one-off dyno) and the job's size as task cpu/memory when it differs. EventBridge
    Scheduler: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/tasks-scheduled.html and the
    CreateSchedule API (Target.EcsParameters, Target.Input). Heroku Scheduler does not retry a job: neither does the
    schedule (RetryPolicy 0). The ASL adds Target.RoleArn (the template's scheduler role) and the task definition's
    ARN once registered."""
    base = result.release or (result.services[0].task_definition if result.services else None)
    if base is None:
        raise InvalidInput("scheduler.jobs: the app has no process type whose image and settings the jobs could use")
    app = cfg.heroku.app
    sizes_of = {job.name: dyno_to_fargate(job.size, cfg.ecs.dyno_sizes)[:2] for job in cfg.scheduler.jobs}
    cpu, memory = min(sizes_of.values())
    container = {k: v for k, v in base["ContainerDefinitions"][0].items() if k != "PortMappings"}
    container.update({"Name": SCHEDULER, "Command": container_command(NO_JOB_COMMAND, SCHEDULER),
                      "Environment": [e for e in container.get("Environment") or [] if e.get("Name") != "PORT"],
                      "LogConfiguration": _log_configuration(app, SCHEDULER)})
    td = {**base, "Family": names.ecs_name(app, SCHEDULER), "Cpu": str(cpu), "Memory": str(memory),
          "ContainerDefinitions": [container]}
    network = _network(cfg)["AwsvpcConfiguration"]
    schedules = []
    for job in cfg.scheduler.jobs:
        overrides: dict[str, Any] = {"containerOverrides": [
            {"name": SCHEDULER, "command": container_command(job.command, SCHEDULER)}]}
        if sizes_of[job.name] != (cpu, memory):
            overrides["cpu"], overrides["memory"] = (str(v) for v in sizes_of[job.name])
        schedules.append({
            "Name": names.schedule_name(app, job.name),
            "GroupName": "default",
            "Description": f"heroku2aws: the Heroku Scheduler job {job.name} of {app}",
            "ScheduleExpression": job.schedule,
            "ScheduleExpressionTimezone": job.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "DISABLED",
            "Target": {
                "Arn": cfg.ecs.cluster_arn,
                "EcsParameters": {"TaskCount": 1, "LaunchType": "FARGATE",
                                  "NetworkConfiguration": {"AwsvpcConfiguration": {
                                      "Subnets": network["Subnets"], "SecurityGroups": network["SecurityGroups"],
                                      "AssignPublicIp": network["AssignPublicIp"]}},
                                  "EnableECSManagedTags": True, "PropagateTags": "TASK_DEFINITION"},
                "Input": json.dumps(overrides, separators=(",", ":")),
                "RetryPolicy": {"MaximumRetryAttempts": 0},
            },
        })
    return {"task_definition": td, "schedules": schedules, "names": [s["Name"] for s in schedules]}
