"""Stage 2, data-store parts: Redis and the target Postgres, against real throw-away servers."""

from __future__ import annotations

import math

import pytest

from heroku2aws.steps.preflight import Findings, check_redis_pair, estimate, inspect_redis, inspect_target_postgres
from heroku2aws_rehearsal.servers import free_port


@pytest.fixture(scope="module")
def target_pg(pg_cluster):
    """A database of its own in the shared cluster; ``url()`` reaches it as the superuser."""
    pg_cluster.sql("postgres", "CREATE DATABASE stores_target")

    class Target:
        def url(self, db="stores_target", password=None):
            return pg_cluster.url(db, password=password)

        def sql(self, db, text):
            return pg_cluster.sql(db, text)

    yield Target()
    pg_cluster.sql("postgres", "DROP DATABASE stores_target WITH (FORCE)")


def test_given_a_tls_redis_with_keys_when_inspected_then_version_memory_policy_and_keys(tls_redis):
    client = tls_redis.client(0)
    client.flushall()
    tls_redis.client(2).flushdb()
    client.mset({"a": 1, "b": 2, "c": 3})
    tls_redis.client(2).set("x", 1)
    findings = Findings()

    report = inspect_redis(tls_redis.url(), "source Redis", findings)

    assert findings.problems == []
    assert report.tls is True
    assert report.keys == 4 and report.keys_per_db == {"0": 3, "2": 1}
    assert report.version.count(".") == 2
    assert report.used_memory > 0
    assert report.maxmemory_policy == "noeviction"


def test_given_a_wrong_redis_password_when_inspected_then_refused_without_the_password(tls_redis):
    findings = Findings()
    url = tls_redis.url().replace("src-redis-pass-4e7f", "wrong-pass-9876543210")
    assert inspect_redis(url, "source Redis", findings) is None
    assert findings.problems[0].startswith("source Redis unreachable: AuthenticationError")
    assert "wrong-pass" not in findings.problems[0] and "127.0.0.1" not in findings.problems[0].split(":")[0]


def test_given_nothing_listening_when_redis_inspected_then_refused_naming_which(tls_redis):
    findings = Findings()
    assert inspect_redis(f"redis://:pw-abcdef@127.0.0.1:{free_port()}/0", "target Redis", findings) is None
    assert findings.problems[0].startswith("target Redis unreachable: ConnectionError")
    assert "pw-abcdef" not in findings.problems[0]


def test_given_an_older_non_empty_target_redis_when_paired_then_warnings(tls_redis):
    findings = Findings()
    src = inspect_redis(tls_redis.url(), "source Redis", findings)
    older = src.model_copy(update={"version": "5.0.7", "keys": 7, "maxmemory": 1024, "maxmemory_policy": "allkeys-lru"})
    check_redis_pair(src, older, findings)
    text = " | ".join(findings.warnings)
    assert "older than the source's" in text
    assert "already holds 7 keys" in text
    assert "maxmemory" in text
    assert "eviction policy differs" in text


def test_given_an_empty_target_database_when_inspected_then_empty(target_pg):
    findings = Findings()
    report = inspect_target_postgres(target_pg.url(), findings)
    assert findings.problems == []
    assert report.empty is True and report.user_tables == 0
    assert report.version_num >= 100000


def test_given_a_target_with_tables_when_inspected_then_counted(target_pg):
    target_pg.sql("stores_target", "CREATE SCHEMA IF NOT EXISTS shop; CREATE TABLE IF NOT EXISTS shop.t (id int);"
                                   "CREATE TABLE IF NOT EXISTS public.u (id int)")
    try:
        report = inspect_target_postgres(target_pg.url(), Findings())
        assert report.user_tables == 2 and report.empty is False
    finally:
        target_pg.sql("stores_target", "DROP SCHEMA shop CASCADE; DROP TABLE public.u")


def test_given_a_wrong_target_password_when_inspected_then_refused_without_url_or_password(target_pg):
    findings = Findings()
    url = target_pg.url(password="not-the-password-42")
    assert inspect_target_postgres(url, findings) is None
    problem = findings.problems[0]
    assert problem.startswith("target Postgres unreachable: cannot connect to database: ")
    assert "password authentication failed" in problem
    assert "not-the-password-42" not in problem and "postgresql://" not in problem


def test_given_sizes_when_estimated_then_each_component_is_a_measured_size_over_a_stated_rate():
    """Issue 18, 5: the freeze estimate is the sizes preflight measured over measured rates (and named assumptions),
    component by component; Postgres and Redis side by side."""
    from heroku2aws.freeze_estimate import ASSUMED, MEASURED, Sizes

    gib, mb = 1024 ** 3, 1024 ** 2
    sizes = Sizes(data_bytes=10 * gib, index_bytes=2 * gib, largest_data_bytes=3 * gib, largest_index_bytes=gib // 2,
                  redis_keys=50_000, redis_bytes=100 * mb)
    r, a = MEASURED, ASSUMED
    dump = estimate("dump-restore", sizes, jobs=4)
    stream = 10 * gib / (r.copy_bytes_per_s_per_stream * 4)
    index = 2 * gib / (r.index_bytes_per_s_per_job * 4)
    check = 10 * gib / r.verify_bytes_per_s
    tail = (gib / 2) / r.index_bytes_per_s_per_job + 3 * gib / r.verify_bytes_per_s
    redis = (50_000 / r.redis_copy_keys_per_s + 100 * mb / r.redis_copy_bytes_per_s
             + 50_000 / r.redis_verify_keys_per_s + 100 * mb / r.redis_verify_bytes_per_s)
    postgres = r.schema_seconds + max(stream, index, check) + tail + 10 * gib / r.post_data_bytes_per_s
    expected = a.freeze_entry_seconds + a.task_start_seconds + max(postgres, redis) + a.switch_seconds
    assert dump.write_freeze_seconds == math.ceil(expected)
    names = [c["name"] for c in dump.components]
    assert names[:2] == ["freeze entry", "ECS task start"] and names[-1] == "switch"
    assert any(n.startswith("Redis: copy") for n in names) and any("verification" in n for n in names)
    assert "an estimate" in dump.basis and "measured" in dump.basis
    assert all(c["basis"] for c in dump.components)
    assert dump.rates["copy_bytes_per_s_per_stream"] == r.copy_bytes_per_s_per_stream

    full = estimate("dms-full-load", sizes, jobs=4, subtasks=8, load_units=20)
    load = max(10 * gib / (a.dms_bytes_per_s_per_subtask * 8), 3 * gib / a.dms_bytes_per_s_per_subtask)
    assert full.postgres_copy_seconds >= math.floor(load + a.task_start_seconds)
    assert any("assumed: no DMS to measure here" in c["basis"] for c in full.components)
    assert full.assumptions["dms_full_load_mb_per_s"] == a.dms_bytes_per_s_per_subtask * 8 / mb

    cdc = estimate("dms-cdc", sizes, jobs=4)
    assert cdc.write_freeze_seconds == math.ceil(a.freeze_entry_seconds + a.task_start_seconds + max(
        a.cdc_catch_up_seconds, redis) + a.switch_seconds)
    no_redis = estimate("dms-cdc", Sizes(data_bytes=10 * gib, index_bytes=0, largest_data_bytes=0, largest_index_bytes=0),
                        jobs=4)
    assert no_redis.write_freeze_seconds == math.ceil(a.freeze_entry_seconds + a.cdc_catch_up_seconds + a.switch_seconds)
    # more jobs: a shorter copy; the verification (one verifier) and the tail do not shrink
    more = estimate("dump-restore", sizes, jobs=8)
    assert more.postgres_copy_seconds < dump.postgres_copy_seconds and more.verify_seconds == dump.verify_seconds


def test_given_the_template_when_read_then_the_verify_budget_is_the_functions_timeout():
    from heroku2aws.steps.preflight import VERIFY_FUNCTION_SECONDS
    from heroku2aws_rehearsal.deploy import load_template

    assert load_template()["Resources"]["VerifyDataFunction"]["Properties"]["Timeout"] == VERIFY_FUNCTION_SECONDS


def test_given_the_same_redis_as_source_and_target_when_paired_then_refused(tls_redis):
    """Two secrets, two names for one server (issue 15): refused in preflight, not inside the freeze."""
    f = Findings()
    one = inspect_redis(tls_redis.url(), "source Redis", f)
    other = inspect_redis(tls_redis.url().replace("127.0.0.1", "localhost"), "target Redis", f)
    assert one is not None and other is not None and one.run_id
    check_redis_pair(one, other, f)
    assert any("same server" in p for p in f.problems), f.problems
