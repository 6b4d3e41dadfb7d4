"""The sample app's web process run as the rehearsal runs it on "ECS" and stopped as ECS stops it.

The command is the Procfile's ``web`` line planned by plan_services (the bash wrapper), started the way
patches/local.py starts a container (this environment's Python on PATH, the sample slug as the image's /app),
and stopped by the emulator's ECS stop (SIGTERM to PID 1 only, SIGKILL after the container's stopTimeout).
The request in flight when SIGTERM arrives is finished (Dev Center "Dynos and the Dyno Manager": SIGTERM, 30 s,
then SIGKILL), and the app's .profile.d script ran before the process started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from heroku2aws.steps.plan_services import STOP_TIMEOUT_SECONDS, container_command, parse_procfile
from heroku2aws_rehearsal.patches.local import _container_pids, _stop_container
from heroku2aws_rehearsal.sample_app import CONFIG_VARS, PROCFILE_PATH, SLUG_DIR
from heroku2aws_rehearsal.servers import free_port

SLOW_S = 3
DEADLINE_S = 15


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a local test server
        return response.status, response.read()


def _wait_until_up(url: str, proc: subprocess.Popen) -> None:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        assert proc.poll() is None, "the web process exited before it listened"
        try:
            if _get(url, 1)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"web did not answer within {DEADLINE_S}s")


def test_given_a_request_in_flight_when_ecs_stops_the_web_task_then_the_request_finishes_and_web_exits_0(tmp_path):
    web = parse_procfile(Path(PROCFILE_PATH).read_text())["web"]
    port = free_port()
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]), "HOME": str(tmp_path),
           "HEROKU2AWS_APP_DIR": SLUG_DIR, "PORT": str(port), "PYTHONUNBUFFERED": "1", **CONFIG_VARS,
           "DATABASE_URL": "postgres://app:pw@127.0.0.1:1/app", "REDIS_URL": "redis://:pw@127.0.0.1:1"}
    env.pop("WEB_CONCURRENCY")  # unset: the .profile.d default applies
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(container_command(web, "web"), env=env, cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/", proc)
        answer: dict = {}

        def slow_request() -> None:
            started = time.monotonic()
            try:
                answer["status"], answer["body"] = _get(f"{base}/slow?seconds={SLOW_S}", DEADLINE_S)
            except OSError as exc:
                answer["error"] = repr(exc)
            answer["seconds"] = time.monotonic() - started

        client = threading.Thread(target=slow_request)
        client.start()
        end = time.monotonic() + DEADLINE_S
        while "slow request started" not in log.read_text():  # the request is being served
            assert time.monotonic() < end, "the slow request never reached the app"
            time.sleep(0.05)
        stop_started = time.monotonic()
        rc = _stop_container(proc, STOP_TIMEOUT_SECONDS)
        stopped_after = time.monotonic() - stop_started
        client.join(DEADLINE_S)
    finally:
        if proc.poll() is None:
            _stop_container(proc, 0)

    assert "error" not in answer, answer
    assert answer["status"] == 200 and json.loads(answer["body"]) == {"slept": SLOW_S}
    assert rc == 0  # not 137 (SIGKILL): the app stopped by itself, inside the grace
    assert SLOW_S - 1 < stopped_after < STOP_TIMEOUT_SECONDS
    assert _container_pids(proc.pid) == []
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    by_msg = {r["msg"]: r for r in records}
    assert by_msg["listening"]["profile_d"] == "sourced"
    assert by_msg["stopping"]["signal"] == 15
    assert by_msg["stopped"]["requests_cut"] == 0
