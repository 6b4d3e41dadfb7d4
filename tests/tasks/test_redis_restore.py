"""The command (``heroku2aws redis-copy``) and the ECS task (``python -m heroku2aws.tasks.redis_restore``):
the --json line, exit statuses, TLS, URLs from the environment and from Secrets Manager, progress,
and passwords that never reach the output."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from helpers import SOURCE_PASSWORD, TARGET_PASSWORD, assert_same, redis_source, redis_target, seed_every_type  # noqa: F401

from heroku2aws.redis import copy as copier
from heroku2aws.redis.resp import Conn, encode
from heroku2aws.redis.urls import parse_endpoint
from heroku2aws.tasks import redis_restore
from heroku2aws_cli.main import main as cli_main
from heroku2aws_rehearsal.servers import RedisServer, free_port

REQUIRED = {"keys", "bytes", "seconds", "keys_per_second", "fallback_keys", "expired_during_copy", "verified"}


def task(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_REDIS", "TARGET_REDIS", "REDIS_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "heroku2aws.tasks.redis_restore", *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def no_secret(*texts: str) -> None:
    for text in texts:
        assert SOURCE_PASSWORD not in text and TARGET_PASSWORD not in text
        assert "Traceback" not in text


def test_given_json_when_copied_then_the_summary_is_the_last_line_of_stdout(source, target, capsys):
    seed_every_type(source.client())
    for i in range(200):
        source.client().set(f"k{i}", i, ex=600)
    status = cli_main(["redis-copy", source.url(), target.url(), "--json", "--verify-sample", "1"])
    out, err = capsys.readouterr()
    assert status == 0, err
    doc = last_json(out)
    assert set(doc) >= REQUIRED
    assert doc["keys"] == source.client().dbsize() and doc["verified"] is True
    assert doc["fallback_keys"] == 0 and doc["expired_during_copy"] == 0
    assert doc["bytes"] > 0 and doc["seconds"] > 0 and doc["keys_per_second"] > 0
    assert doc["databases"] == {"0": {"copied": doc["keys"], "source_keys": doc["keys"], "target_keys": doc["keys"]}}
    assert_same(source.client(), target.client())
    no_secret(out, err)


def test_given_a_task_definition_asking_for_metrics_when_run_then_the_figures_precede_the_json_line(source, target):
    for i in range(50):
        source.client().set(f"k{i}", i)
    r = task(source.url(), target.url(), "--json", env={"POWERTOOLS_METRICS_NAMESPACE": "heroku2aws"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    emf = [json.loads(line) for line in lines if '"_aws"' in line]
    assert [doc["RedisKeysCopied"] for doc in emf] == [[50]] and "RedisCopySeconds" in emf[0]
    assert json.loads(lines[-1])["keys"] == 50  # the --json line stays last
    no_secret(r.stdout, r.stderr)


def test_given_no_metrics_namespace_when_run_by_a_person_then_no_metrics_line(source, target):
    r = task(source.url(), target.url(), "--json")
    assert r.returncode == 0, r.stderr
    assert '"_aws"' not in r.stdout


def test_given_urls_in_the_environment_when_run_then_no_password_is_printed(source, target):
    source.client().set("a", 1)
    source.client().hset("h", "f", "v")
    env = {"SOURCE_REDIS_URL": source.url(), "TARGET_REDIS_URL": target.url(), "REDIS_PROGRESS_INTERVAL": "0.05"}
    r = task("--json", env=env)
    assert r.returncode == 0, r.stderr
    no_secret(r.stdout, r.stderr)
    doc = last_json(r.stdout)
    assert doc["verified"] and doc["keys"] == 2
    assert doc["source"] == f"redis://:***@127.0.0.1:{source.port}/0"
    logs = [json.loads(line) for line in r.stdout.splitlines()[:-1] if line.startswith("{")]
    progress = [x for x in logs if x["message"] == "redis copy progress"]
    assert progress and {"keys", "bytes", "keys_per_second", "eta_seconds", "total_keys"} <= set(progress[-1])
    assert any(x["message"] == "redis copy starting" and "***" in x["source"] for x in logs)

    # A conflict (status 1), a wrong password and an unreachable server (status 2): still no password.
    r = task("--json", env=env)
    assert r.returncode == 1
    assert "2 keys already exist on the target" in r.stderr and "db0:a" in r.stderr and "--replace" in r.stderr
    assert last_json(r.stdout)["verified"] is False
    no_secret(r.stdout, r.stderr)
    wrong = source.url().replace(SOURCE_PASSWORD, SOURCE_PASSWORD[::-1])
    r = task(wrong, target.url(), "--json")
    assert r.returncode == 2 and "login to source" in r.stderr
    no_secret(r.stdout, r.stderr)
    assert SOURCE_PASSWORD[::-1] not in r.stdout + r.stderr
    port = free_port()
    r = task(f"redis://:{SOURCE_PASSWORD}@127.0.0.1:{port}/0", target.url())
    assert r.returncode == 2 and f"cannot connect to source redis://:***@127.0.0.1:{port}/0" in r.stderr
    no_secret(r.stdout, r.stderr)


@pytest.mark.parametrize("url, message", [
    ("not-a-url", "is not a redis:// or rediss:// URL"),
    ("http://127.0.0.1:80/", "is not a redis:// or rediss:// URL"),
    ("redis://:pw-in-bad-url@127.0.0.1:notaport/0", "cannot be parsed"),
    ("redis://:pw-in-bad-url@/0", "has no host"),
    ("redis://127.0.0.1:6390/zero", "the path must be a database number"),
])
def test_given_a_bad_url_when_run_then_a_clear_error(url, message, capsys):
    status = redis_restore.main([url, "redis://127.0.0.1:1/0", "--json"])
    out, err = capsys.readouterr()
    assert status == 2
    assert message in err and "pw-in-bad-url" not in out + err and "Traceback" not in err
    assert last_json(out)["verified"] is False


def test_given_a_bad_option_when_run_then_the_json_line_still_ends_the_output(capsys):
    assert redis_restore.main(["redis://a", "redis://b", "--verify-sample", "2", "--json"]) == 2
    out, err = capsys.readouterr()
    assert "between 0 and 1" in err and last_json(out)["verified"] is False


def test_given_no_url_anywhere_when_run_then_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("SOURCE_REDIS_URL", raising=False)
    assert redis_restore.main([]) == 2
    assert "SOURCE_REDIS_URL is not set" in capsys.readouterr().err


def test_given_secret_arns_when_run_then_the_urls_are_read_from_secrets_manager(source, target, monkeypatch, capsys):
    import boto3
    from moto import mock_aws

    source.client().set("from-secret", "yes")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager")
        src_arn = sm.create_secret(Name="heroku-redis", SecretString=json.dumps({"url": source.url()}))["ARN"]
        tgt_arn = sm.create_secret(Name="elasticache", SecretString=target.url())["ARN"]
        monkeypatch.setenv("SOURCE_REDIS_URL", src_arn)
        monkeypatch.setenv("TARGET_REDIS_URL", tgt_arn)
        assert redis_restore.main(["--json"]) == 0
    out, err = capsys.readouterr()
    assert target.client().get("from-secret") == b"yes"
    no_secret(out, err)


def test_given_self_signed_tls_when_run_then_it_needs_the_skip_verify_option():
    with RedisServer(name="tls-src", tls=True, password=SOURCE_PASSWORD).start() as src, \
            RedisServer(name="tls-tgt", tls=True, password=TARGET_PASSWORD).start() as tgt:
        seed_every_type(src.client(), ttl_ms=600_000)
        assert src.url().startswith("rediss://")
        r = task(src.url(), tgt.url(), "--json")
        assert r.returncode == 2
        assert "TLS certificate of source" in r.stderr and "--insecure-skip-verify" in r.stderr
        no_secret(r.stdout, r.stderr)
        assert tgt.client().dbsize() == 0

        r = task(src.url(), tgt.url(), "--json", "--insecure-skip-verify", "--verify-sample", "1")
        assert r.returncode == 0, r.stderr
        assert last_json(r.stdout)["verified"] is True
        assert_same(src.client(), tgt.client())
        no_secret(r.stdout, r.stderr)

        tgt.client().flushall()
        r = task("--json", env={"SOURCE_REDIS_URL": src.url(), "TARGET_REDIS_URL": tgt.url(), "REDIS_TLS_VERIFY": "false"})
        assert r.returncode == 0, r.stderr
        tgt.client().flushall()
        r = task(src.url() + "?ssl_cert_reqs=none", tgt.url() + "?ssl_cert_reqs=none", "--json")
        assert r.returncode == 0, r.stderr


def test_given_a_verification_difference_when_run_then_it_fails_naming_the_key(source, target, monkeypatch, capsys):
    src = source.client()
    for i in range(300):
        src.set(f"k{i}", i)
    src.rpush("jobs", "a", "b", "c")
    original = copier.copy

    def copy_then_tamper(*a, **kw):
        out = original(*a, **kw)
        target.client().rpush("jobs", "d")
        return out

    monkeypatch.setattr(copier, "copy", copy_then_tamper)
    status = redis_restore.main([source.url(), target.url(), "--json", "--verify-sample", "1"])
    out, err = capsys.readouterr()
    assert status == 1
    named = "db0:jobs (list of 3 members on the source, 4 on the target)"
    assert "verification failed" in err and named in err
    doc = last_json(out)
    assert doc["verified"] is False and doc["verify_mismatches"] == [named]


def test_given_a_terminal_when_run_then_a_live_progress_line(source, target):
    conn = Conn(parse_endpoint(source.url()))
    conn.send(b"".join(encode("SET", b"k%d" % i, b"v") for i in range(50_000)))
    for _ in range(50_000):
        conn.get()
    conn.close()
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_REDIS", "TARGET_REDIS", "REDIS_"))}
    proc = subprocess.Popen([sys.executable, "-m", "heroku2aws.tasks.redis_restore", source.url(), target.url()],
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "redis copy:" in text and "keys/s" in text and "ETA" in text
    assert "50,000/50,000 keys (100%)" in text
    no_secret(text)
