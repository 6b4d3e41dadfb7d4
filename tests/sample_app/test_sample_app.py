"""The sample Heroku app: its seeded data, and its web, worker and release processes as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from heroku2aws_rehearsal.sample_app import CONFIG_VARS, JOBS_KEY, PROCFILE_PATH, SECRET_CONFIG_VARS
from heroku2aws_rehearsal.sample_app.seed import POSTGRES_TABLES, seed_postgres, seed_redis
from heroku2aws_rehearsal.servers import PostgresServer, RedisServer, free_port

REDIS_PASSWORD = "redis-pw-Zq8x"


@pytest.fixture(scope="module")
def pg():
    with PostgresServer(name="sample-pg", ssl=True) as server:
        server.start()
        server.sql("postgres", "CREATE DATABASE app")
        yield server


@pytest.fixture(scope="module")
def seeded(pg):
    with RedisServer(name="sample-redis", tls=True, password=REDIS_PASSWORD) as redis_server:
        redis_server.start()
        yield {"pg": pg, "redis_server": redis_server, "client": redis_server.client(),
               "postgres": seed_postgres(pg.url("app")), "redis": seed_redis(redis_server.url())}


def _env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(CONFIG_VARS)
    env["SAMPLE_APP_PROFILE_D"] = "sourced"  # what the slug's .profile.d sets (the web refuses to start without it)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _spawn(module: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", f"heroku2aws_rehearsal.sample_app.{module}"], env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen, timeout: float = 5.0) -> tuple[int, str]:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"did not stop on SIGTERM within {timeout}s:\n{out}") from None
    return proc.returncode, out


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _wait_status(port: int, want: int, timeout: float = 15) -> str:
    end = time.monotonic() + timeout
    status, body = 0, ""
    while time.monotonic() < end:
        status, body = _get(port, "/health")
        if status == want:
            return body
        time.sleep(0.1)
    raise AssertionError(f"/health never answered {want} (last: {status} {body})")


# ------------------------------------------------------------------------------------------ the app's shape


def test_procfile_and_config_vars():
    lines = Path(PROCFILE_PATH).read_text().splitlines()
    procfile = dict(line.split(": ", 1) for line in lines if line.strip())
    assert procfile == {t: f"python -m heroku2aws_rehearsal.sample_app.{t}" for t in ("web", "worker", "release")}
    assert {"WEB_CONCURRENCY", "LOG_LEVEL", "SECRET_KEY_BASE", "STRIPE_API_KEY"} <= set(CONFIG_VARS)
    assert "DATABASE_URL" not in CONFIG_VARS and "REDIS_URL" not in CONFIG_VARS   # add-on attachments
    for name in SECRET_CONFIG_VARS:
        assert len(CONFIG_VARS[name]) >= 24
    # The rehearsal spots secrets by name: only the secret ones may look like it.
    looks_secret = {k for k in CONFIG_VARS if "KEY" in k or "SECRET" in k or "TOKEN" in k}
    assert looks_secret == set(SECRET_CONFIG_VARS)


# ------------------------------------------------------------------------------------------ seeding


def test_seed_postgres_counts_and_types(seeded):
    pg, result = seeded["pg"], seeded["postgres"]
    assert result["tables"] == POSTGRES_TABLES
    assert result["rows"] == sum(POSTGRES_TABLES.values()) >= 100_000
    assert result["seconds"] < 10
    with psycopg.connect(pg.url("app")) as c:
        for table, rows in POSTGRES_TABLES.items():
            assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows
        types = {r[0] for r in c.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = 'public'").fetchall()}
        assert {"jsonb", "timestamp with time zone", "numeric", "bytea", "ARRAY", "USER-DEFINED", "bigint"} <= types
        assert c.execute("SELECT enum_range(NULL::order_status)::text").fetchone()[0] == \
            "{pending,paid,shipped,delivered,cancelled}"
        no_pk = [r[0] for r in c.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT EXISTS "
            "(SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)").fetchall()]
        assert no_pk == ["page_views"]
        identity = c.execute("SELECT table_name, identity_generation FROM information_schema.columns "
                             "WHERE is_identity = 'YES' ORDER BY 1").fetchall()
        assert identity == [("order_items", "ALWAYS"), ("products", "BY DEFAULT")]
        seqs = dict(c.execute("SELECT sequencename, last_value FROM pg_sequences").fetchall())
        assert seqs["orders_id_seq"] == POSTGRES_TABLES["orders"]
        assert seqs["customers_id_seq"] == POSTGRES_TABLES["customers"]
        assert len(result["sequences"]) == 5
        # Awkward values are there to be carried.
        assert c.execute("SELECT count(*) FROM customers WHERE name LIKE E'%\\t%\\n%'").fetchone()[0] > 0
        assert c.execute("SELECT count(*) FROM products WHERE thumbnail IS NULL").fetchone()[0] > 0
        assert c.execute("SELECT count(*) FROM (SELECT 1 FROM page_views GROUP BY page_views.* "
                         "HAVING count(*) > 1) d").fetchone()[0] == 25


def test_seed_postgres_is_deterministic_and_refuses_a_seeded_database(seeded):
    pg = seeded["pg"]
    pg.sql("postgres", "CREATE DATABASE app2")
    try:
        seed_postgres(pg.url("app2"))

        def fingerprint(db: str) -> dict[str, str]:
            with psycopg.connect(pg.url(db)) as c:
                return {t: c.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {t} t")
                        .fetchone()[0] for t in POSTGRES_TABLES}

        assert fingerprint("app") == fingerprint("app2")
        with pytest.raises(RuntimeError, match="already holds"):
            seed_postgres(pg.url("app2"))
    finally:
        pg.sql("postgres", "DROP DATABASE app2 WITH (FORCE)")


def _keyspace(client) -> dict[bytes, tuple]:
    keys = sorted(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.type(k)
        pipe.dump(k)
        pipe.ttl(k)
    out = pipe.execute()
    return {k: (out[3 * i], out[3 * i + 1], out[3 * i + 2] > 0) for i, k in enumerate(keys)}


def test_seed_redis_counts_types_ttls(seeded):
    result, client = seeded["redis"], seeded["client"]
    assert result["keys"] == sum(result["by_type"].values())
    assert 2000 <= result["keys"] <= 10000
    assert result["seconds"] < 10
    space = _keyspace(client)
    assert len(space) == result["keys"]
    by_type: dict[str, int] = {}
    for kind, _, _ in space.values():
        by_type[kind.decode()] = by_type.get(kind.decode(), 0) + 1
    assert by_type == result["by_type"]
    assert set(by_type) == {"string", "hash", "list", "set", "zset", "stream"}
    assert sum(1 for _, _, has_ttl in space.values() if has_ttl) == result["with_ttl"] > 0
    ttls = [client.ttl(k) for k, (_, _, has_ttl) in space.items() if has_ttl]
    assert min(ttls) > 5 * 3600   # hours: nothing expires during a rehearsal
    assert client.llen("big:list:audit") == 30000 and client.hlen("big:hash:prices") == 20000
    assert client.scard("big:set:visitors") == 25000 and client.zcard("big:zset:trending") == 20000
    assert client.xlen("big:stream:clicks") == 5000
    assert client.xinfo_groups("stream:orders:0")[0]["pending"] == 5
    assert client.get(b"bin:\x00\xff\x10key") == b"\x00\x01\x02"


def test_seed_redis_is_deterministic(seeded):
    with RedisServer(name="sample-redis-2") as other:
        other.start()
        seed_redis(other.url())
        a = {k: (t, ttl) for k, (t, _, ttl) in _keyspace(seeded["client"]).items()}
        b = {k: (t, ttl) for k, (t, _, ttl) in _keyspace(other.client()).items()}
        assert a == b
        # Byte for byte where the encoding keeps insertion order (a big set's hashtable order is per process).
        for key in (b"big:zset:trending", b"user:7", b"stream:orders:3", b"big:list:audit", b"blob:3"):
            assert seeded["client"].dump(key) == other.client().dump(key)
        assert seeded["client"].smembers("big:set:visitors") == other.client().smembers("big:set:visitors")
        assert seeded["client"].hgetall("big:hash:prices") == other.client().hgetall("big:hash:prices")
        with pytest.raises(RuntimeError, match="not empty"):
            seed_redis(other.url())


# ------------------------------------------------------------------------------------------ processes


def test_web_health_ok_then_503_when_redis_goes_down(seeded):
    pg = seeded["pg"]
    with RedisServer(name="web-redis", tls=True, password=REDIS_PASSWORD) as redis_server:
        redis_server.start()
        port = free_port()
        database_url = pg.url("app").replace("postgresql://", "postgres://")   # Heroku's scheme
        proc = _spawn("web", PORT=str(port), DATABASE_URL=database_url, REDIS_URL=redis_server.url())
        try:
            body = json.loads(_wait_status(port, 200))
            assert body == {"status": "ok", "database": f"127.0.0.1:{pg.port}/app",
                            "redis": f"127.0.0.1:{redis_server.port}", "orders": POSTGRES_TABLES["orders"]}
            status, page = _get(port, "/")
            assert status == 200 and "Sample app" in page
            assert _get(port, "/nope")[0] == 404
            redis_server.stop()
            body = _wait_status(port, 503)
            doc = json.loads(body)
            assert doc["status"] == "unhealthy" and doc["error"].startswith("redis:")
            assert "orders" in doc   # the database side still answered
            for secret in (pg.password, REDIS_PASSWORD):
                assert secret not in body
        finally:
            code, out = _stop(proc)
        assert code == 0, out
        assert pg.password not in out and REDIS_PASSWORD not in out
        assert '"msg": "stopping"' in out


def test_web_503_when_the_database_is_unreachable(seeded):
    port = free_port()
    bad_db = f"postgres://app:db-secret-pw@127.0.0.1:{free_port()}/app"
    proc = _spawn("web", PORT=str(port), DATABASE_URL=bad_db, REDIS_URL=seeded["redis_server"].url())
    try:
        body = _wait_status(port, 503)
        doc = json.loads(body)
        assert doc["error"].startswith("database:") and "redis:" not in doc["error"]
        assert "db-secret-pw" not in body and REDIS_PASSWORD not in body
    finally:
        code, out = _stop(proc)
    assert code == 0 and "db-secret-pw" not in out


def test_worker_turns_jobs_into_rows_and_stops_on_sigterm(seeded):
    pg, client = seeded["pg"], seeded["client"]
    with psycopg.connect(pg.url("app")) as c:
        before = c.execute("SELECT count(*) FROM jobs_done").fetchone()[0]
    client.rpush(JOBS_KEY, *[json.dumps({"id": i, "kind": "send-receipt"}) for i in range(40)], "not json")
    proc = _spawn("worker", DATABASE_URL=pg.url("app"), REDIS_URL=seeded["redis_server"].url())
    try:
        end = time.monotonic() + 15
        while True:
            with psycopg.connect(pg.url("app")) as c:
                done = c.execute("SELECT count(*) FROM jobs_done").fetchone()[0] - before
            if done == 41 or time.monotonic() > end:
                break
            time.sleep(0.1)
        assert done == 41
        assert client.llen(JOBS_KEY) == 0
        with psycopg.connect(pg.url("app")) as c:
            assert c.execute("SELECT job FROM jobs_done WHERE job ? 'raw'").fetchone()[0] == {"raw": "not json"}
            workers = c.execute("SELECT DISTINCT worker FROM jobs_done WHERE job ? 'kind' AND id > %s",
                                (POSTGRES_TABLES["jobs_done"],)).fetchall()
            assert len(workers) == 1 and workers[0][0].endswith(f":{proc.pid}")
    finally:
        started = time.monotonic()
        code, out = _stop(proc)
    assert code == 0, out
    assert time.monotonic() - started < 4
    assert REDIS_PASSWORD not in out and pg.password not in out


def test_release_passes_on_the_app_database_and_fails_otherwise(seeded):
    pg = seeded["pg"]
    ok = subprocess.run([sys.executable, "-m", "heroku2aws_rehearsal.sample_app.release"],
                        env=_env(DATABASE_URL=pg.url("app")), capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "release checks passed" in ok.stdout

    empty = subprocess.run([sys.executable, "-m", "heroku2aws_rehearsal.sample_app.release"],
                           env=_env(DATABASE_URL=pg.url("postgres")), capture_output=True, text=True, timeout=30)
    assert empty.returncode != 0 and "lacks the app's tables" in empty.stderr

    wrong = pg.url("app", password="wrong-pw-123")
    bad = subprocess.run([sys.executable, "-m", "heroku2aws_rehearsal.sample_app.release"],
                         env=_env(DATABASE_URL=wrong), capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "is not usable" in bad.stderr
    assert "wrong-pw-123" not in bad.stdout + bad.stderr

    missing = subprocess.run([sys.executable, "-m", "heroku2aws_rehearsal.sample_app.release"],
                             env=_env(), capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "DATABASE_URL is not set" in missing.stderr


def test_worker_keeps_the_job_when_the_database_is_down(seeded):
    client = seeded["client"]
    client.delete(JOBS_KEY)
    bad_db = f"postgres://app:db-secret-pw@127.0.0.1:{free_port()}/app"
    proc = _spawn("worker", DATABASE_URL=bad_db, REDIS_URL=seeded["redis_server"].url())
    try:
        client.rpush(JOBS_KEY, json.dumps({"id": "precious"}))
        time.sleep(1.5)
        assert proc.poll() is None   # rides the outage out
        assert client.lrange(JOBS_KEY, 0, -1) == [json.dumps({"id": "precious"}).encode()]
    finally:
        code, out = _stop(proc)
    client.delete(JOBS_KEY)
    assert code == 0, out
    assert "retrying after an error" in out and "db-secret-pw" not in out
