"""Run on this machine what AWS would run: Lambda handlers, ECS tasks and services, DMS copies.

- **Lambda**: invoking a function runs its own handler from ``functions/`` in a worker process of
  its own (a warm pool per function, as Lambda keeps warm sandboxes) with exactly the environment
  the template gives it, its code and layers on ``PYTHONPATH`` and nothing else of ours: no shared
  modules, no leaked environment. An exception comes back in Lambda's error shape
  (``FunctionError: Unhandled``, ``{"errorType", "errorMessage", "stackTrace"}``).
- **ECS**: RunTask runs the container's command as a local process with the container's
  environment and its ``secrets`` resolved from the emulated Secrets Manager, as the ECS agent
  would: the command exactly as registered (plan_services' bash wrapper runs with this machine's
  bash), with this environment's Python first on PATH as the image's. Stopping a task is ECS's
  stop: SIGTERM to the container's PID 1 only, SIGKILL to every process of the container after
  its ``stopTimeout`` (default 30 s), and whatever PID 1 leaves behind dies with the container.
  The task is RUNNING while the process lives and STOPPED with the real exit code after.
  A service keeps ``desiredCount`` such processes; a new deployment restarts them with the current
  secret values; web tasks get a port of their own and are registered in the service's target
  group, where they are healthy only while their health URL answers 200.
- **DMS**: StartReplicationTask moves the data for real between the endpoints' databases
  (``dms_mover``); DescribeReplicationTasks / DescribeTableStatistics report its progress.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..servers import free_port

_lock = threading.RLock()

#: Where processes' output goes (set by the engine; one file per function / task).
LOG_DIR: Path = Path(tempfile.gettempdir()) / "heroku2aws-rehearsal-logs"

#: Environment every local process starts from (nothing else of this process leaks in).
_BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def base_env() -> dict[str, str]:
    from ..aws import aws_env, current

    env = {k: os.environ[k] for k in _BASE_ENV_KEYS if k in os.environ}
    env.update(aws_env(current().endpoint))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _log_file(kind: str, name: str) -> Any:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return open(LOG_DIR / f"{kind}-{safe}.log", "ab")


def _python_argv(argv: list[str]) -> list[str]:
    """A container's ``python …`` runs with this environment's interpreter (the image's stand-in)."""
    if argv and Path(argv[0]).name in {"python", "python3", "python3.11", "python3.12", "python3.13"}:
        return [sys.executable, *argv[1:]]
    return argv


def _terminate(proc: subprocess.Popen, grace: float = 5.0) -> int | None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode



#: ECS's default ``stopTimeout`` on Fargate when the container definition gives none (seconds).
ECS_DEFAULT_STOP_TIMEOUT = 30


def _container_pids(session: int) -> list[int]:
    """Every live process of a local "container": the session its PID 1 leads (process groups inside may differ)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":  # stat: state ppid pgrp session ...
            pids.append(int(entry.name))
    return pids


def _stop_container(proc: subprocess.Popen, stop_timeout: float) -> int | None:
    """ECS's stop: SIGTERM to PID 1 only; SIGKILL to the container's processes after ``stop_timeout``; when PID 1
    has exited, the rest of the container goes with it (the kernel kills a PID namespace's processes)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=stop_timeout)
    for _ in range(100):  # again until none is left: a dying shell may still fork
        pids = _container_pids(proc.pid)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    proc.wait()
    return proc.returncode


# ============================================================================================
# Lambda
# ============================================================================================


@dataclass
class LocalFunction:
    """A deployed function's local code: registered by the deployer from the template."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    layer_dirs: list[Path]
    environment: dict[str, str]
    timeout: int = 30
    memory: int = 512
    _idle: list[_Worker] = field(default_factory=list)
    _all: list[_Worker] = field(default_factory=list)


FUNCTIONS: dict[str, LocalFunction] = {}
_WORKER = Path(__file__).resolve().parents[1] / "lambda_worker.py"
INVOCATIONS: list[dict[str, Any]] = []  # (function, request id, error type) for tests and reports


class _Worker:
    def __init__(self, fn: LocalFunction) -> None:
        env = base_env()
        env.update(fn.environment)
        from ..services.iam import callers as iam_callers

        env.update(iam_callers.function_credentials(fn.name))  # its execution role, not the engine's identity
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"rehearsal/{uuid.uuid4().hex[:8]}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(fn.code_dir),
            "_HANDLER": fn.handler,
            "PYTHONPATH": os.pathsep.join([str(fn.code_dir), *map(str, fn.layer_dirs)]),
            "H2A_FUNCTION_ARN": fn.arn,
            "H2A_FUNCTION_TIMEOUT": str(fn.timeout),
        })
        self.proc = subprocess.Popen(
            # run_path, not -m: nothing of the engine is imported into the function's process.
            [sys.executable, "-c", f"import runpy; runpy.run_path({str(_WORKER)!r}, run_name='__main__')"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=_log_file("lambda", fn.name),
            env=env, cwd=str(fn.code_dir), start_new_session=True,
        )

    def call(self, event: Any, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        request_id = str(uuid.uuid4())
        self.proc.stdin.write(json.dumps({"event": event, "request_id": request_id}).encode() + b"\n")
        self.proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                _terminate(self.proc, 1)
                return {"ok": False, "request_id": request_id, "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {timeout:.2f} seconds"}}
        finally:
            sel.close()
        line = self.proc.stdout.readline()
        if not line:
            return {"ok": False, "request_id": request_id, "error": {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                f"exit status {self.proc.wait()}"}}
        out = json.loads(line)
        out["request_id"] = request_id
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None


def invoke_local(fn: LocalFunction, event: Any) -> tuple[bytes, bool]:
    """Run ``fn`` on ``event``: (payload, errored)."""
    with _lock:
        worker = fn._idle.pop() if fn._idle else None
    if worker is None or not worker.alive():
        worker = _Worker(fn)
        with _lock:
            fn._all.append(worker)
    try:
        out = worker.call(event, fn.timeout)
    finally:
        if worker.alive():
            with _lock:
                fn._idle.append(worker)
    INVOCATIONS.append({"function": fn.name, "request_id": out.get("request_id"),
                        "error": (out.get("error") or {}).get("errorType") if not out.get("ok") else None})
    if out.get("ok"):
        return json.dumps(out.get("result")).encode(), False
    return json.dumps(out["error"]).encode(), True


def engine_active() -> bool:
    """True while an emulated AWS of the engine runs in this process. Unit tests that use moto's
    in-process ``mock_aws`` in the same process keep moto's own behaviour."""
    from .. import aws

    return aws._current is not None and not _in_mock_aws()


def _in_mock_aws() -> bool:
    from moto.core.models import botocore_stubber

    return bool(botocore_stubber.enabled)


def _respond(fn: LocalFunction, body, response_headers) -> bytes:
    """Invoke's HTTP answer: the payload, with Lambda's function-error header when the handler raised."""
    payload, errored = invoke_local(fn, json.loads(body) if body else {})
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-executed-version"] = "$LATEST"
    return payload


def _patch_lambda() -> None:
    from moto.awslambda import models as lm

    original = lm.LambdaFunction.invoke

    def invoke(self, body, request_headers, response_headers):
        fn = FUNCTIONS.get(self.function_name)
        if fn is None:
            return original(self, body, request_headers, response_headers)
        return _respond(fn, body, response_headers)

    lm.LambdaFunction.invoke = invoke

    # Without Docker moto answers every invoke from its "simple" backend: route ours to the handler.
    from moto.awslambda_simple import models as simple

    original_simple = simple.LambdaSimpleBackend.invoke

    def simple_invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.split(":function:")[-1].split(":")[0]
        if name in FUNCTIONS:
            return _respond(FUNCTIONS[name], body, response_headers)
        return original_simple(self, function_name, qualifier, body, headers, response_headers)

    simple.LambdaSimpleBackend.invoke = simple_invoke


# ============================================================================================
# ECS
# ============================================================================================


def resolve_secret_reference(value_from: str) -> str:
    """An ECS ``secrets[].valueFrom``: a secret ARN, optionally ``:json-key:version-stage:version-id``."""
    from moto.secretsmanager.models import secretsmanager_backends

    from ..aws import ACCOUNT_ID, REGION

    parts = value_from.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager":
        raise ValueError(f"unsupported valueFrom (only Secrets Manager ARNs): {value_from.split(':secret:')[0]}…")
    arn = ":".join(parts[:7])
    json_key, stage, version = (parts[7:] + ["", "", ""])[:3]
    backend = secretsmanager_backends[ACCOUNT_ID][REGION]
    secret = backend.get_secret_value(arn, version or None, stage or None)
    text = secret.get("SecretString") or ""
    if json_key:
        doc = json.loads(text)
        if json_key not in doc:
            raise KeyError(f"secret has no key {json_key!r}")
        return str(doc[json_key])
    return text


# ----------------------------------------------------------------------------- images the build stage made

#: Where the rehearsal's CodeBuild keeps the images it "builds" (an image's root: ``<repository>/<tag>/``).
IMAGE_ROOTS: Path = Path(tempfile.gettempdir()) / "heroku2aws-rehearsal-images"
#: The entrypoint path inside the images heroku2aws.image.slug_image makes (a file at the image root here).
IMAGE_ENTRYPOINT = "/usr/local/bin/heroku2aws-process"


def image_root(image: str) -> Path | None:
    """The local root of ``<registry>/<repository>:<tag>`` when the rehearsal's build stage made it, else None."""
    _, _, rest = image.partition("/")
    repository, _, tag = rest.rpartition(":")
    if not repository or not tag or "/" in tag:
        return None
    root = IMAGE_ROOTS / repository / tag
    return root if (root / "image.json").is_file() else None


@dataclass
class LocalTask:
    proc: subprocess.Popen | None
    stop_timeout: float = ECS_DEFAULT_STOP_TIMEOUT
    port: int | None = None
    target_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    error: str | None = None


TASKS: dict[str, LocalTask] = {}  # task ARN -> process
_target_ids = itertools.count(2)


def _container_process(task_def, overrides: dict | None, extra_env: dict[str, str], log_name: str
                       ) -> tuple[subprocess.Popen | None, str | None]:
    """Start the task's essential container as a local process (the first container)."""
    container = task_def.container_definitions[0]
    override = next((o for o in (overrides or {}).get("containerOverrides", [])
                     if o.get("name") == container.get("name")), {})
    env = base_env()
    for item in container.get("environment") or []:
        env[item["name"]] = str(item["value"])
    from ..services.iam import callers as iam_callers

    try:
        # The task role's credentials in the container; the execution role pulls, logs and reads the secrets.
        env.update(iam_callers.task_credentials(task_def, overrides, log_name))
        iam_callers.check_task_start(task_def, overrides, log_name)
        for item in container.get("secrets") or []:
            env[item["name"]] = resolve_secret_reference(item["valueFrom"])
    except iam_callers.TaskCannotStart as exc:
        return None, str(exc)
    except Exception as exc:  # ECS: the task stops before the container starts
        return None, f"ResourceInitializationError: unable to pull secrets: {exc}"
    for item in override.get("environment") or []:
        env[item["name"]] = str(item["value"])
    env.update(extra_env)
    command = override.get("command") or container.get("command")
    if not command and image_root(str(container.get("image") or "")) is not None:
        command = ["(the image's CMD)"]  # replaced below by the image's own default command
    if not command:
        return None, "CannotStartContainerError: the rehearsal needs a command (the image's default is unknown here)"
    from .. import engine_paths

    # The image's stand-in: this environment's Python is the ``python`` a Procfile command finds on PATH, and the
    # sample app's slug is the image's /app (plan_services' wrapper reads HEROKU2AWS_APP_DIR, default /app).
    env["PATH"] = os.pathsep.join(p for p in (str(Path(sys.executable).parent), env.get("PATH")) if p)
    from ..sample_app import SLUG_DIR

    argv, cwd = list(command), str(engine_paths.RUN_DIR)
    root = image_root(str(container.get("image") or ""))
    if root is not None:
        # An image the build stage made (its root: the unpacked slug at app/, the entrypoint, image.json): Docker
        # runs ENTRYPOINT + the task's Command (or the image's CMD), in the image's WORKDIR (/app).
        config = json.loads((root / "image.json").read_text())
        entrypoint = [str(root / p.rsplit("/", 1)[-1]) if p == IMAGE_ENTRYPOINT else p for p in config["entrypoint"]]
        argv = entrypoint + (list(override.get("command") or container.get("command") or config.get("cmd") or []))
        env["HEROKU2AWS_APP_DIR"] = str(root / "app")
        cwd = str(root / "app")
    else:  # an image given as is (not built here): the sample app's slug stands for its /app
        env.setdefault("HEROKU2AWS_APP_DIR", SLUG_DIR)
    proc = subprocess.Popen(_python_argv(argv), env=env, cwd=cwd,
                            stdout=_log_file("ecs", log_name), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, None


def _stop_timeout(task_def) -> float:
    container = task_def.container_definitions[0]
    return float(container.get("stopTimeout") or ECS_DEFAULT_STOP_TIMEOUT)


def _finish_task(task, rc: int | None, reason: str | None = None) -> None:
    from moto.core.utils import utcnow

    if getattr(task, "_h2a_done", False):
        return
    task._h2a_done = True
    for c in task.containers:
        c.last_status = "STOPPED"
        c.exitCode = rc
        if reason:
            c.reason = reason
    task.desired_status = "STOPPED"
    task.stopped_reason = reason or "Essential container in task exited"
    task.stop_code = "TaskFailedToStart" if rc is None else "EssentialContainerExited"
    task.stopped_at = utcnow()
    task.execution_stopped_at = utcnow()


def _patch_ecs() -> None:
    from moto.ecs import models as em

    status_prop = em.Task.status  # ManagedState's property

    def status_get(self):
        local = TASKS.get(self.task_arn) if hasattr(self, "_h2a") else None
        if local is None:
            return status_prop.fget(self)
        if local.proc is None:
            _finish_task(self, None, local.error)
            return "STOPPED"
        rc = local.proc.poll()
        if rc is None:
            for c in self.containers:
                c.last_status = "RUNNING"
            return "RUNNING"
        _finish_task(self, rc)
        return "STOPPED"

    em.Task.status = property(status_get, status_prop.fset)

    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    if not hasattr(NetworkInterface, "private_dns_name"):  # moto's awsvpc tasks read it; the ENI lacks it
        NetworkInterface.private_dns_name = property(
            lambda self: f"ip-{str(self.private_ip_address).replace('.', '-')}.ec2.internal")

    original_requirements = em.EC2ContainerServiceBackend._calculate_task_resource_requirements

    def _calculate_task_resource_requirements(task_definition):
        # Fargate sizes memory at the task level; moto added None for containers without their own.
        try:
            return original_requirements(task_definition)
        except TypeError:
            return {"CPU": int(task_definition.cpu or 0), "MEMORY": int(task_definition.memory or 0),
                    "PORTS": [], "PORTS_UDP": []}

    em.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        _calculate_task_resource_requirements)

    original_run = em.EC2ContainerServiceBackend.run_task

    def run_task(self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type,
                 *args, **kwargs):
        net = kwargs.get("networking_configuration") or (args[0] if args else None)
        if isinstance(net, dict) and "awsvpcConfiguration" in net:
            net["awsvpcConfiguration"].setdefault("securityGroups", [])  # AWS uses the VPC's default group
        tasks = original_run(self, cluster_str, task_definition_str, count, overrides, started_by, tags,
                             launch_type, *args, **kwargs)
        if not engine_active():  # plain moto (unit tests with mock_aws): moto's own behaviour
            return tasks
        for task in tasks:
            task_def = self.describe_task_definition(task.task_definition_arn)
            proc, error = _container_process(task_def, overrides, {}, f"{task_def.family}-{task.id[:8]}")
            task._h2a = True
            TASKS[task.task_arn] = LocalTask(proc=proc, error=error, stop_timeout=_stop_timeout(task_def))
        return tasks

    em.EC2ContainerServiceBackend.run_task = run_task

    original_describe_tasks = em.EC2ContainerServiceBackend.describe_tasks

    def describe_tasks(self, cluster_str, tasks):
        found = original_describe_tasks(self, cluster_str, tasks)
        for task in found:
            _ = task.status  # settle container status and exit code before the response is built
        return found

    em.EC2ContainerServiceBackend.describe_tasks = describe_tasks

    original_stop = em.EC2ContainerServiceBackend.stop_task

    def stop_task(self, cluster_str, task_str, reason):
        task = original_stop(self, cluster_str, task_str, reason)
        local = TASKS.get(task.task_arn)
        if local and local.proc:
            rc = _stop_container(local.proc, local.stop_timeout)
            _finish_task(task, rc, reason or "Task stopped by user")
        return task

    em.EC2ContainerServiceBackend.stop_task = stop_task

    # ---- services -------------------------------------------------------------------------

    original_create = em.EC2ContainerServiceBackend.create_service

    def create_service(self, *args, **kwargs):
        service = original_create(self, *args, **kwargs)
        if not engine_active():
            return service
        SERVICES[service.arn] = ServiceRunner(self, service)
        SERVICES[service.arn].reconcile(new_deployment=True)
        return service

    original_update = em.EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        force = bool(service_properties.get("force_new_deployment"))
        new_td = service_properties.get("task_definition") is not None
        service = original_update(self, service_properties)
        runner = SERVICES.get(service.arn)
        if runner:
            runner.reconcile(new_deployment=force or new_td)
        return service

    original_delete = em.EC2ContainerServiceBackend.delete_service

    def delete_service(self, cluster_name, service_name, force):
        service = original_delete(self, cluster_name, service_name, force)
        runner = SERVICES.pop(service.arn, None)
        if runner:
            runner.stop_all()
        return service

    original_describe = em.EC2ContainerServiceBackend.describe_services

    def describe_services(self, cluster_str, service_names_or_arns):
        result = original_describe(self, cluster_str, service_names_or_arns)
        services = result[0] if isinstance(result, tuple) else result
        for service in services:
            runner = SERVICES.get(service.arn)
            if runner:
                runner.refresh()
        return result

    em.EC2ContainerServiceBackend.create_service = create_service
    em.EC2ContainerServiceBackend.update_service = update_service
    em.EC2ContainerServiceBackend.delete_service = delete_service
    em.EC2ContainerServiceBackend.describe_services = describe_services


class ServiceRunner:
    """Keeps a service's desired count of local processes, registered in its target group."""

    def __init__(self, backend, service) -> None:
        self.backend = backend
        self.service = service
        self.tasks: list[LocalTask] = []
        self.deployed_at = time.monotonic()

    @property
    def _lb(self) -> dict | None:
        lbs = self.service.load_balancers or []
        return lbs[0] if lbs else None

    def _start_one(self) -> LocalTask:
        task_def = self.backend.describe_task_definition(self.service.task_definition)
        extra: dict[str, str] = {}
        port = target_id = None
        if self._lb:
            port = free_port()
            target_id = f"127.0.0.{next(_target_ids) % 250 + 2}"
            extra["PORT"] = str(port)
        proc, error = _container_process(task_def, None, extra, f"{self.service.name}")
        task = LocalTask(proc=proc, port=port, target_id=target_id, error=error, stop_timeout=_stop_timeout(task_def))
        if self._lb and proc is not None:
            _elbv2().register_targets(self._lb["targetGroupArn"], [{"Id": target_id, "Port": port}])
            TARGET_PORTS[(self._lb["targetGroupArn"], target_id)] = port
        return task

    def _stop(self, task: LocalTask) -> None:
        if self._lb and task.target_id:
            with contextlib.suppress(Exception):
                _elbv2().deregister_targets(self._lb["targetGroupArn"], [{"Id": task.target_id, "Port": task.port}])
            TARGET_PORTS.pop((self._lb["targetGroupArn"], task.target_id), None)
        if task.proc is not None:
            _stop_container(task.proc, task.stop_timeout)

    def reconcile(self, new_deployment: bool = False) -> None:
        with _lock:
            if new_deployment:
                for task in self.tasks:
                    self._stop(task)
                self.tasks = []
                self.deployed_at = time.monotonic()
            for task in [t for t in self.tasks if t.proc is None or t.proc.poll() is not None]:
                self._stop(task)
                self.tasks.remove(task)
            want = int(self.service.desired_count or 0) if self.service.status == "ACTIVE" else 0
            while len(self.tasks) > want:
                self._stop(self.tasks.pop())
            while len(self.tasks) < want:
                self.tasks.append(self._start_one())
            self.refresh()

    def refresh(self) -> None:
        """Counts and rollout state from the processes (a crashed one is replaced, as ECS does)."""
        with _lock:
            dead = [t for t in self.tasks if t.proc is None or t.proc.poll() is not None]
            for task in dead:
                self._stop(task)
                self.tasks.remove(task)
            if dead and self.service.status == "ACTIVE":
                self.failed_tasks = getattr(self, "failed_tasks", 0) + len(dead)
                while len(self.tasks) < int(self.service.desired_count or 0):
                    self.tasks.append(self._start_one())
            # A task counts as running after it has stayed up for a moment.
            running = sum(1 for t in self.tasks if time.monotonic() - t.started >= 0.5)
            self.service.running_count = running
            self.service.pending_count = len(self.tasks) - running
            if self.service.deployments:
                d = self.service.deployments[0]
                d["runningCount"] = running
                d["pendingCount"] = len(self.tasks) - running
                d["desiredCount"] = self.service.desired_count
                d["taskDefinition"] = self.service.task_definition
                d["failedTasks"] = getattr(self, "failed_tasks", 0)
                done = running >= int(self.service.desired_count or 0)
                d["rolloutState"] = "COMPLETED" if done else "IN_PROGRESS"
                d["rolloutStateReason"] = f"ECS deployment {d['id']} {'completed' if done else 'in progress'}."

    def stop_all(self) -> None:
        with _lock:
            for task in self.tasks:
                self._stop(task)
            self.tasks = []


SERVICES: dict[str, ServiceRunner] = {}
TARGET_PORTS: dict[tuple[str, str], int] = {}


# ============================================================================================
# ELBv2 target health: a registered local target is healthy while its health URL answers 200
# ============================================================================================


def _elbv2():
    from moto.elbv2.models import elbv2_backends

    from ..aws import ACCOUNT_ID, REGION

    return elbv2_backends[ACCOUNT_ID][REGION]


def probe(port: int, path: str, timeout: float = 2.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:  # noqa: S310
            return resp.status == 200, f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except OSError as exc:
        return False, type(exc).__name__


def _patch_elbv2() -> None:
    from moto.elbv2 import models as m

    original = m.FakeTargetGroup.health_for

    def health_for(self, target, ec2_backend):
        status = original(self, target, ec2_backend)
        port = TARGET_PORTS.get((self.arn, target["Id"]))
        if port is None or status.status in {"unused", "draining"}:
            return status
        ok, detail = probe(port, self.health_check_path or "/")
        if ok:
            return m.FakeHealthStatus(target["Id"], port, self.health_check_port, "healthy")
        return m.FakeHealthStatus(target["Id"], port, self.health_check_port, "unhealthy",
                                  "Target.FailedHealthChecks", f"Health checks failed ({detail})")

    m.FakeTargetGroup.health_for = health_for


# ============================================================================================
# DMS: move the data for real
# ============================================================================================

RUNS: dict[str, Any] = {}  # replication task ARN -> dms_mover.ReplicationRun


def endpoint_url(endpoint) -> str:
    """A libpq URL for a DMS endpoint: its own fields, or the Secrets Manager secret it names."""
    from urllib.parse import quote

    settings = getattr(endpoint, "postgre_sql_settings", None) or getattr(endpoint, "postgresql_settings", None) or {}
    secret_id = settings.get("SecretsManagerSecretId") if isinstance(settings, dict) else None
    if secret_id:
        from ..services.iam import callers as iam_callers

        iam_callers.check_dms_secret(settings, secret_id, endpoint.endpoint_identifier)  # as its access role
        doc = json.loads(resolve_secret_reference(secret_id) if secret_id.startswith("arn:")
                         else _secret_by_name(secret_id))
        host, port, user, password = doc["host"], doc["port"], doc["username"], doc["password"]
    else:
        host, port, user, password = (endpoint.server_name, endpoint.port, endpoint.username,
                                      getattr(endpoint, "password", "") or "")
    db = endpoint.database_name or (settings.get("DatabaseName") if isinstance(settings, dict) else None) or "postgres"
    ssl = (endpoint.ssl_mode or "none") if hasattr(endpoint, "ssl_mode") else "none"
    sslmode = {"none": "disable", "require": "require", "verify-ca": "verify-ca",
               "verify-full": "verify-full"}.get(ssl, "prefer")
    return f"postgresql://{quote(user)}:{quote(str(password), safe='')}@{host}:{port}/{db}?sslmode={sslmode}"


def _endpoint_key(backend, arn: str) -> str:
    """moto keys endpoints by identifier; tasks name them by ARN."""
    for key, endpoint in backend.endpoints.items():
        if endpoint.endpoint_arn == arn:
            return key
    raise KeyError(f"DMS endpoint {arn} not found")


def _secret_by_name(name: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    from ..aws import ACCOUNT_ID, REGION

    return secretsmanager_backends[ACCOUNT_ID][REGION].get_secret_value(name, None, None)["SecretString"]


def _patch_dms() -> None:
    from moto.dms import models as dm

    def _run_for(task):
        return RUNS.get(task.arn)

    from moto.dms import exceptions as dx
    from moto.dms import responses as dr

    def start_replication_task(self, replication_task_arn, start_type="start-replication"):
        task = self.replication_tasks.get(replication_task_arn)
        if task is None:
            raise dx.ResourceNotFoundFault("Replication task could not be found.")
        previous = RUNS.get(task.arn)
        # AWS: start-replication only on a task that never ran; a re-run needs reload-target.
        if start_type == "start-replication" and previous is not None:
            raise dx.InvalidResourceStateFault(
                f"Replication task {task.id} has run before: use StartReplicationTaskType reload-target")
        if previous is not None and previous.status in {"running", "starting", "stopping"}:
            raise dx.InvalidResourceStateFault(f"Replication task {task.id} is {previous.status}")
        task.start()
        if not engine_active():
            return task
        from ..dms_mover import ReplicationRun

        source = self.endpoints[_endpoint_key(self, task.source_endpoint_arn)]
        target = self.endpoints[_endpoint_key(self, task.target_endpoint_arn)]
        settings = task.replication_task_settings
        settings = json.loads(settings) if isinstance(settings, str) and settings else (settings or {})
        prep = (settings.get("FullLoadSettings") or {}).get("TargetTablePrepMode", "DROP_AND_CREATE")
        if start_type == "reload-target" and prep == "DO_NOTHING":
            prep = "TRUNCATE_BEFORE_LOAD"
        if previous is not None:
            previous.stop()
        run = ReplicationRun(endpoint_url(source), endpoint_url(target), task.table_mappings, task.migration_type,
                             target_prep_mode=prep, task_id=task.id, target_metadata=settings.get("TargetMetadata"),
                             full_load_settings=settings.get("FullLoadSettings"))
        RUNS[task.arn] = run
        run.start()
        return task

    original_create_endpoint = dm.DatabaseMigrationServiceBackend.create_endpoint

    def create_endpoint(self, endpoint_identifier, *args, **kwargs):
        # AWS refuses a second endpoint of the same identifier; moto silently replaced the first one.
        if endpoint_identifier in self.endpoints:
            raise dx.ResourceAlreadyExistsFault(f"Endpoint {endpoint_identifier} already exists")
        return original_create_endpoint(self, endpoint_identifier, *args, **kwargs)

    dm.DatabaseMigrationServiceBackend.create_endpoint = create_endpoint

    original_test = dm.DatabaseMigrationServiceBackend.test_connection

    def test_connection(self, replication_instance_arn, endpoint_arn):
        """DMS's own test, for real: connect to the endpoint's database (moto also crashed on a re-test)."""
        existing = [c for c in self.connections
                    if c.replication_instance_arn == replication_instance_arn and c.endpoint_arn == endpoint_arn]
        connection = existing[0] if existing else original_test(self, replication_instance_arn, endpoint_arn)
        if not engine_active():
            return connection
        import psycopg

        endpoint = self.endpoints[_endpoint_key(self, endpoint_arn)]
        try:
            psycopg.connect(endpoint_url(endpoint), connect_timeout=5).close()
            connection.status, connection.last_failure_message = "successful", ""
        except Exception as exc:  # the message DMS shows, without credentials
            connection.status = "failed"
            connection.last_failure_message = f"Test connection failed for endpoint {endpoint.endpoint_identifier}: " \
                f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return connection

    dm.DatabaseMigrationServiceBackend.test_connection = test_connection

    original_connection_dict = dm.FakeConnection.to_dict

    def connection_to_dict(self):
        out = original_connection_dict(self)
        out["LastFailureMessage"] = getattr(self, "last_failure_message", "") or ""
        return out

    dm.FakeConnection.to_dict = connection_to_dict

    def start_replication_task_response(self):
        task = self.dms_backend.start_replication_task(
            self._get_param("ReplicationTaskArn"), self._get_param("StartReplicationTaskType") or "start-replication")
        return json.dumps({"ReplicationTask": task.to_dict()})

    dr.DatabaseMigrationServiceResponse.start_replication_task = start_replication_task_response

    original_stop = dm.DatabaseMigrationServiceBackend.stop_replication_task

    def stop_replication_task(self, replication_task_arn):
        task = original_stop(self, replication_task_arn)
        run = RUNS.get(replication_task_arn)
        if run is not None:
            run.stop()
        return task

    original_delete = dm.DatabaseMigrationServiceBackend.delete_replication_task

    def delete_replication_task(self, replication_task_arn):
        run = RUNS.pop(replication_task_arn, None)
        if run is not None:
            run.stop()
        return original_delete(self, replication_task_arn)

    # The task's status and statistics follow the copy.
    original_to_dict = dm.FakeReplicationTask.to_dict

    def to_dict(self):
        run = _run_for(self)
        if run is None and self.status == "creating":  # AWS: ready within a minute; moto: never
            self.status = "ready"
        if run is not None:
            self.status = run.status
            self.stop_reason = run.stop_reason
        out = original_to_dict(self)
        if run is not None:
            out["Status"] = run.status
            if run.stop_reason:
                out["StopReason"] = run.stop_reason
            if run.last_failure_message:
                out["LastFailureMessage"] = run.last_failure_message
            from ..dms_mover import to_wire

            out["ReplicationTaskStats"] = to_wire(run.stats())
        return out

    dm.DatabaseMigrationServiceBackend.start_replication_task = start_replication_task
    dm.DatabaseMigrationServiceBackend.stop_replication_task = stop_replication_task
    dm.DatabaseMigrationServiceBackend.delete_replication_task = delete_replication_task
    dm.FakeReplicationTask.to_dict = to_dict

    original_endpoint_dict = dm.Endpoint.to_dict

    def endpoint_to_dict(self):
        if getattr(self, "status", None) == "creating":  # AWS: active at once; moto: never
            self.status = "active"
        return original_endpoint_dict(self)

    dm.Endpoint.to_dict = endpoint_to_dict


# ============================================================================================


def _patch_sns() -> None:
    """Keep what is published to a topic (the approval request, the report) for the rehearsal to read."""
    from moto.sns import models as sm

    original = sm.Topic.publish

    def publish(self, message, *args, **kwargs):
        PUBLISHED.append({"topic": self.arn, "message": message,
                          "subject": kwargs.get("subject") or (args[0] if args else None)})
        return original(self, message, *args, **kwargs)

    sm.Topic.publish = publish


PUBLISHED: list[dict[str, Any]] = []


# ----------------------------------------------------------------------------- CodeBuild

@dataclass
class LocalBuildProject:
    """A CodeBuild project of the template, as the rehearsal runs it: its environment variables, its service role,
    the layers its buildspec unpacks (``HEROKU2AWS_SHARED_LAYER_ARN``), the variables its buildspec exports."""

    name: str
    arn: str
    service_role: str
    environment: dict[str, str]
    layer_dirs: list[Path]
    exported: list[str]
    timeout_minutes: int = 60


@dataclass
class LocalBuild:
    project: LocalBuildProject | None
    proc: subprocess.Popen | None
    workdir: Path
    error: str | None = None
    stopped: bool = False
    started: float = field(default_factory=time.monotonic)


BUILD_PROJECTS: dict[str, LocalBuildProject] = {}   # project name -> project
BUILDS: dict[str, LocalBuild] = {}                   # build id -> its local process


def _start_local_build(build_id: str, project_name: str, overrides: list[dict[str, Any]]) -> None:
    """StartBuild runs the project's build here: what its buildspec's build phase runs (``python -m
    heroku2aws.image.slug_image``) with the ``local-root`` builder (no Docker), the project's environment and the
    call's overrides, as the project's service role (which must trust codebuild.amazonaws.com). The install phase
    (fetching the layer with the AWS CLI) is the layer's directory on PYTHONPATH here."""
    from ..services.iam import callers
    from ..services.iam.identity import IDENTITIES

    project = BUILD_PROJECTS.get(project_name)
    workdir = Path(tempfile.mkdtemp(prefix="heroku2aws-codebuild-"))
    if project is None:
        BUILDS[build_id] = LocalBuild(None, None, workdir, error=f"the rehearsal has no local build for {project_name}")
        return
    env = base_env()
    env.update(project.environment)
    for item in overrides:
        if (item.get("type") or "PLAINTEXT") != "PLAINTEXT":
            BUILDS[build_id] = LocalBuild(project, None, workdir, error="only PLAINTEXT overrides are rehearsed")
            return
        env[str(item["name"])] = str(item["value"])
    try:
        # CodeBuild assumes the service role with the project's account and ARN as aws:SourceAccount / SourceArn
        # (CodeBuild user guide, "Cross-service confused deputy prevention").
        callers.assume(project.service_role, "codebuild.amazonaws.com", build_id,
                       {"aws:SourceAccount": project.arn.split(":")[4], "aws:SourceArn": project.arn})
    except callers.CannotAssume as exc:
        BUILDS[build_id] = LocalBuild(project, None, workdir, error=f"CLIENT_ERROR: {exc}")
        return
    env.update(IDENTITIES.issue(project.service_role, "AWSCodeBuild-" + build_id.rsplit(":", 1)[-1]))
    env["PYTHONPATH"] = os.pathsep.join(str(d) for d in project.layer_dirs)
    env["HEROKU2AWS_IMAGE_ROOTS"] = str(IMAGE_ROOTS)
    env["CODEBUILD_BUILD_ID"] = build_id
    proc = subprocess.Popen([sys.executable, "-m", "heroku2aws.image.slug_image", "--builder", "local-root",
                             "--env-file", str(workdir / "build.env")], env=env, cwd=str(workdir),
                            stdout=_log_file("codebuild", project_name), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    BUILDS[build_id] = LocalBuild(project, proc, workdir)


def _exported(build: LocalBuild) -> list[dict[str, str]]:
    """``exported-variables`` as CodeBuild reports them: the declared names, from the build's final shell."""
    values: dict[str, str] = {}
    env_file = build.workdir / "build.env"
    if env_file.is_file():
        import shlex

        for line in env_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0] if value else ""
    names = build.project.exported if build.project else []
    return [{"name": n, "value": values.get(n, "")} for n in names]


def _build_state(build_id: str, record: dict[str, Any]) -> None:
    """Fill a build record (BatchGetBuilds' shape) from its local process."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    build = BUILDS[build_id]
    rc = build.proc.poll() if build.proc is not None else None
    if build.proc is not None and rc is None and not build.stopped:
        record.update(buildStatus="IN_PROGRESS", currentPhase="BUILD", buildComplete=False)
        return
    if record.get("buildComplete"):
        return
    now = iso_8601_datetime_with_milliseconds()
    if build.stopped:
        status, phase_status, context = "STOPPED", "STOPPED", {}
    elif rc == 0:
        status, phase_status, context = "SUCCEEDED", "SUCCEEDED", {}
    else:
        status, phase_status = "FAILED", "FAILED"
        context = {"statusCode": "COMMAND_EXECUTION_ERROR" if build.proc is not None else "CLIENT_ERROR",
                   "message": build.error or "Error while executing command: PYTHONPATH=\"$PWD/layer/python\" python3 -m "
                                             f"heroku2aws.image.slug_image --builder docker --env-file build.env. "
                                             f"Reason: exit status {rc}"}
    record["phases"] = [p for p in record.get("phases", []) if p.get("phaseType") in ("SUBMITTED", "QUEUED")]
    for p in record["phases"]:
        p.setdefault("phaseStatus", "SUCCEEDED")
        p.setdefault("endTime", now)
    record["phases"].append({"phaseType": "BUILD", "phaseStatus": phase_status, "startTime": record["startTime"],
                             "endTime": now, **({"contexts": [context]} if context else {})})
    record.update(buildStatus=status, currentPhase="COMPLETED", buildComplete=True, endTime=now)
    if status == "SUCCEEDED":
        record["exportedEnvironmentVariables"] = _exported(build)


def _patch_codebuild() -> None:
    from moto.codebuild import models as cm
    from moto.codebuild import responses as cr
    from moto.codebuild.exceptions import InvalidInputException

    def _validate_source(source: dict[str, Any]) -> None:
        # CodeBuild API Reference, ProjectSource: NO_SOURCE has no location and then needs a buildspec; the other
        # types need a location (moto required a location for NO_SOURCE too).
        kind = source.get("type")
        if kind not in ("BITBUCKET", "CODECOMMIT", "CODEPIPELINE", "GITHUB", "GITHUB_ENTERPRISE", "NO_SOURCE", "S3"):
            raise InvalidInputException("Invalid type provided: Project source type")
        if kind == "NO_SOURCE":
            if not source.get("buildspec"):
                raise InvalidInputException("Project source buildspec is required for NO_SOURCE")
        elif not source.get("location"):
            raise InvalidInputException("Project source location is required")

    cr._validate_required_params_source = _validate_source

    original_start = cr.CodeBuildResponse.start_build

    def start_build(self):
        result = original_start(self)
        build_id = self.codebuild_backend.build_metadata[self._get_param("projectName")].build_metadata["id"]
        with _lock:
            _start_local_build(build_id, self._get_param("projectName"),
                               self._get_param("environmentVariablesOverride") or [])
        return result

    cr.CodeBuildResponse.start_build = start_build

    original_batch = cm.CodeBuildBackend.batch_get_builds

    def batch_get_builds(self, ids):
        local_ids = [i for i in ids if i in BUILDS]
        out = original_batch(self, [i for i in ids if i not in BUILDS])
        for metadata in self.build_metadata_history.values():
            for record in metadata:
                if record["id"] in local_ids:
                    _build_state(record["id"], record)
                    out.append(record)
        return out

    cm.CodeBuildBackend.batch_get_builds = batch_get_builds

    original_stop = cm.CodeBuildBackend.stop_build

    def stop_build(self, build_id):
        build = BUILDS.get(build_id)
        if build is None:
            return original_stop(self, build_id)
        if build.proc is not None and build.proc.poll() is None:
            build.stopped = True
            _terminate(build.proc, 5)
        for metadata in self.build_metadata_history.values():
            for record in metadata:
                if record["id"] == build_id:
                    _build_state(build_id, record)
                    return record
        return None

    cm.CodeBuildBackend.stop_build = stop_build


def apply() -> None:
    _patch_codebuild()
    _patch_sns()
    _patch_lambda()
    _patch_ecs()
    _patch_elbv2()
    _patch_dms()


def stop_everything() -> None:
    """Stop every local process the emulation started (end of an engine, reset, Ctrl-C)."""
    with _lock:
        for runner in list(SERVICES.values()):
            runner.stop_all()
        SERVICES.clear()
        for local in list(TASKS.values()):
            if local.proc is not None:
                _stop_container(local.proc, 2)
        TASKS.clear()
        for fn in FUNCTIONS.values():
            for worker in fn._all:
                _terminate(worker.proc, 1)
            fn._all.clear()
            fn._idle.clear()
        FUNCTIONS.clear()
        for run in list(RUNS.values()):
            with contextlib.suppress(Exception):
                run.stop()
        RUNS.clear()
        for build in list(BUILDS.values()):
            if build.proc is not None:
                _terminate(build.proc, 2)
        BUILDS.clear()
        BUILD_PROJECTS.clear()
        TARGET_PORTS.clear()
        PUBLISHED.clear()
