"""The container command plan_services builds runs a Procfile command as Heroku runs a dyno's.

Each test runs the real wrapper (``container_command``) with the real bash of this machine, as ECS would run it
as PID 1 of the task: bash syntax, ``exec``, ``.profile.d`` / ``.profile`` sourced from the app directory, the
image's PATH kept, the command's exit status, and SIGTERM sent to the wrapper alone reaching every process the
command started (Dev Center "Dynos and the Dyno Manager": SIGTERM to all the dyno's processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from heroku2aws.steps.plan_services import STOP_TIMEOUT_SECONDS, container_command

DEADLINE_S = 10


def run(command: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = DEADLINE_S
        ) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ["PATH"], "HOME": str(cwd), **(env or {})}
    return subprocess.run(container_command(command, "web"), cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=timeout, check=False)


def wait_for(predicate, what: str, seconds: float = DEADLINE_S) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


@pytest.mark.parametrize(("command", "out"), [
    ("exec printf 'exec-ok'", "exec-ok"),  # under sh-as-argv this was the program 'exec'
    ("[[ abc == a* ]] && printf bracket", "bracket"),
    ("{ echo to-stderr >&2; } &> /dev/null; printf quiet", "quiet"),
    ("sleep 0.3 & sleep 0.05 & wait -n; printf first-done", "first-done"),
    ("printf '%s' \"${WEB_CONCURRENCY:-2}-${PORT}\"", "2-5000"),
    ("A=1 B=2; printf $((A+B))", "3"),
])
def test_given_bash_syntax_in_a_procfile_command_when_run_then_bash_runs_it(tmp_path, command, out):
    result = run(command, tmp_path, {"PORT": "5000"})
    assert (result.returncode, result.stdout) == (0, out), result.stderr


def test_given_a_command_that_fails_when_run_then_the_container_exits_with_its_status(tmp_path):
    assert run("exit 7", tmp_path).returncode == 7


def test_given_profile_d_and_profile_in_the_workdir_when_run_then_both_are_sourced_in_order_before_the_command(
        tmp_path):
    (tmp_path / ".profile.d").mkdir()
    # Not exported: Heroku sources them in the shell that runs the command, so the command still sees it.
    (tmp_path / ".profile.d" / "ruby.sh").write_text('RACK_ENV=${RACK_ENV:-production}\nexport GEM=from-profile-d\n')
    (tmp_path / ".profile.d" / "ignored.txt").write_text("exit 9\n")
    (tmp_path / ".profile").write_text('PROFILE_SAW="$GEM"\n')
    result = run('printf "%s %s %s" "$RACK_ENV" "$GEM" "$PROFILE_SAW"', tmp_path)
    assert (result.returncode, result.stdout) == (0, "production from-profile-d from-profile-d"), result.stderr


def test_given_a_config_var_when_profile_d_sets_a_default_then_the_config_var_wins(tmp_path):
    (tmp_path / ".profile.d").mkdir()
    (tmp_path / ".profile.d" / "lang.sh").write_text("export LANG=${LANG:-en_US.UTF-8}\n")
    assert run('printf "$LANG"', tmp_path, {"LANG": "C.UTF-8"}).stdout == "C.UTF-8"


def test_given_a_slug_in_the_app_dir_when_run_elsewhere_then_it_runs_in_the_app_dir_with_home_there(tmp_path):
    app, workdir = tmp_path / "app", tmp_path / "workdir"
    (app / ".profile.d").mkdir(parents=True)
    workdir.mkdir()
    (app / ".profile.d" / "path.sh").write_text('export PATH="$HOME/bin:$PATH"\n')
    (app / "bin").mkdir()
    tool = app / "bin" / "slug-tool"
    tool.write_text("#!/bin/bash\nprintf slug-tool\n")
    tool.chmod(0o755)
    result = run('printf "%s|%s|" "$PWD" "$HOME"; slug-tool', workdir, {"HEROKU2AWS_APP_DIR": str(app)})
    assert (result.returncode, result.stdout) == (0, f"{app}|{app}|slug-tool"), result.stderr


def test_given_login_files_that_reset_path_when_run_then_the_image_path_still_comes_first(tmp_path):
    # Debian's /etc/profile resets PATH for a login shell; the image's ENV PATH must survive it.
    home, bin_dir = tmp_path / "home", tmp_path / "image-bin"
    home.mkdir()
    bin_dir.mkdir()
    (home / ".profile").write_text("PATH=/usr/bin:/bin\n")
    tool = bin_dir / "image-tool"
    tool.write_text("#!/bin/bash\nprintf image-tool\n")
    tool.chmod(0o755)
    result = run("image-tool", tmp_path, {"HOME": str(home), "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert (result.returncode, result.stdout) == (0, "image-tool"), result.stderr


CHILD = """
import pathlib, signal, sys, time
name = sys.argv[1]
def term(*_):
    pathlib.Path(name + ".term").write_text("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
pathlib.Path(name + ".ready").write_text("")
time.sleep(60)
"""


def test_given_a_command_with_background_processes_when_only_pid_1_gets_sigterm_then_every_process_gets_it(
        tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    py = sys.executable
    # What ECS does on StopTask / scale-in / deploy: SIGTERM to PID 1 of the container, nothing else.
    proc = subprocess.Popen(container_command(f"{py} child.py a & {py} child.py b & wait", "worker"), cwd=tmp_path,
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, start_new_session=True)
    try:
        wait_for(lambda: (tmp_path / "a.ready").exists() and (tmp_path / "b.ready").exists(), "both processes")
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        # The bash running ``wait`` is one of the command's processes too: it dies of the SIGTERM, as on Heroku.
        assert proc.wait(timeout=DEADLINE_S) == 128 + signal.SIGTERM
        assert time.monotonic() - started < STOP_TIMEOUT_SECONDS
        assert (tmp_path / "a.term").read_text() == "SIGTERM"
        assert (tmp_path / "b.term").read_text() == "SIGTERM"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_given_an_exec_command_when_pid_1_gets_sigterm_then_the_app_gets_it_and_its_status_is_the_task_s(tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    proc = subprocess.Popen(container_command(f"exec {sys.executable} child.py app", "worker"), cwd=tmp_path,
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, start_new_session=True)
    try:
        wait_for(lambda: (tmp_path / "app.ready").exists(), "the app")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE_S) == 0
        assert (tmp_path / "app.term").read_text() == "SIGTERM"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
