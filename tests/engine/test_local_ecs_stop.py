"""The rehearsal stops a local ECS task as ECS stops a container (patches/local.py ``_stop_container``):
SIGTERM to PID 1 only, SIGKILL after the container's stopTimeout, and nothing of the container left after."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from heroku2aws.steps.plan_services import container_command
from heroku2aws_rehearsal.patches.local import _container_pids, _stop_container

DEADLINE_S = 10


def _start(argv: list[str], tmp_path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=tmp_path, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for_file(path, seconds: float = DEADLINE_S) -> None:
    end = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < end, f"{path.name} never appeared"
        time.sleep(0.05)


def test_given_a_process_that_ignores_sigterm_when_stopped_then_it_is_killed_after_the_stop_timeout(tmp_path):
    proc = _start(container_command("trap '' TERM; touch ready; while :; do sleep 0.1; done", "worker"), tmp_path)
    _wait_for_file(tmp_path / "ready")
    started = time.monotonic()
    rc = _stop_container(proc, 1.0)
    took = time.monotonic() - started
    assert rc == -signal.SIGKILL  # PID 1 (the wrapper) was killed, not stopped by itself
    assert 1.0 <= took < DEADLINE_S
    assert _container_pids(proc.pid) == []


def test_given_pid_1_exits_on_sigterm_when_stopped_then_processes_it_leaves_behind_die_with_the_container(tmp_path):
    # PID 1 here is a plain bash (not the wrapper): it exits on SIGTERM and forwards nothing; its background job
    # (own process group, ignoring SIGTERM) would outlive it on this machine, but not in a container.
    script = "set -m; (trap '' TERM; touch ready; while :; do sleep 0.1; done) & trap 'exit 0' TERM; wait"
    proc = _start(["/bin/bash", "-c", script], tmp_path)
    _wait_for_file(tmp_path / "ready")
    assert len(_container_pids(proc.pid)) >= 2
    assert _stop_container(proc, 5.0) == 0
    assert _container_pids(proc.pid) == []
