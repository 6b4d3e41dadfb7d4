"""Passwords full of URL-special characters (legal in PostgreSQL): the copy task and pg-verify connect with them,
written raw or percent-encoded, and never print them in any form, whether the server answers or not (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from heroku2aws.clients.connections import normalise_url, postgres_url_from_doc
from heroku2aws.redaction import redact, scrub, split_userinfo, url_password

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "p#ss?w@rd/:%&=+ x%zz~"  # every URL delimiter, a space, a raw "%" and an invalid escape
FRAGMENTS = ("p#ss", "w@rd", ":%&=+", "x%zz", "p%23ss", "%3A%25%26", "p%23ss%3Fw%40rd")


def _forms(pw: str) -> list[str]:
    return [pw, quote(pw, safe=""), quote(pw), *FRAGMENTS]


def assert_clean(text: str) -> None:
    leaked = [f for f in _forms(PASSWORD) if f in text]
    assert not leaked, f"password fragments in the output: {leaked}"


@pytest.mark.parametrize("url", [
    f"postgresql://app:{PASSWORD}@127.0.0.1:5432/db?sslmode=require",
    f"postgresql://app:{quote(PASSWORD, safe='')}@127.0.0.1:5432/db?sslmode=require",
    f"postgres://app:{PASSWORD}@h1:5432,h2:5433/db",
    f"postgresql://app:{PASSWORD}@[::1]:5432/db",
])
def test_given_special_characters_when_parsed_then_the_password_is_whole_and_redacted(url):
    assert url_password(url) == PASSWORD
    shown = redact(url)
    assert shown.startswith(url.split(":", 1)[0] + "://app:***@") and shown.endswith(url.rsplit("@", 1)[1])
    assert_clean(shown)
    assert_clean(scrub(f"failed for {url} with {PASSWORD} and {quote(PASSWORD, safe='')}", url))
    normal = normalise_url(url)
    assert url_password(normal) == PASSWORD and normalise_url(normal) == normal
    assert split_userinfo(normal)[3] == url.rsplit("@", 1)[1]  # host, port, path, query kept


def test_given_a_url_field_with_a_raw_password_when_built_then_nothing_is_cut_off():
    url = postgres_url_from_doc({"url": f"postgres://app:{PASSWORD}@db.example.com:5432/d1?sslmode=verify-full"})
    assert url_password(url) == PASSWORD and url.endswith("@db.example.com:5432/d1?sslmode=verify-full")


def test_given_an_unknown_url_in_a_message_when_scrubbed_then_its_password_goes():
    assert_clean(scrub(f"oops: postgresql://u:{PASSWORD.replace(' ', '')}@h/d"))


@pytest.fixture(scope="module")
def nasty(pgh, source, target):
    """A login role with the nasty password on both clusters, and a small app database."""
    for server in (source, target):
        pgh.run(server, "postgres", f"CREATE ROLE app LOGIN SUPERUSER PASSWORD $pw${PASSWORD}$pw$")
    db = pgh.new_db(source, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
    pgh.new_db(target, name=db)
    return db


def _url(server, db: str, *, encoded: bool, port: int | None = None) -> str:
    pw = quote(PASSWORD, safe="") if encoded else PASSWORD
    return f"postgresql://app:{pw}@127.0.0.1:{port or server.port}/{db}"


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL")}
    return subprocess.run([sys.executable, *argv], env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=120, cwd=REPO)


@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_given_a_nasty_password_when_copied_and_verified_then_it_works_and_nothing_leaks(pgh, source, target,
                                                                                          nasty, encoded):
    src, tgt = _url(source, nasty, encoded=encoded), _url(target, nasty, encoded=encoded)
    pgh.run(target, nasty, "DROP TABLE IF EXISTS t")
    r = _run(["-m", "heroku2aws.tasks.pg_dump_restore", "--verify"],
             {"SOURCE_DATABASE_URL": src, "TARGET_DATABASE_URL": tgt})
    assert r.returncode == 0, r.stderr[-2000:]
    assert_clean(r.stdout + r.stderr)
    v = _run(["-m", "heroku2aws.postgres.verify_cli", src, tgt])
    assert v.returncode == 0 and "MATCH" in v.stdout, v.stderr
    assert_clean(v.stdout + v.stderr)


@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
@pytest.mark.parametrize("where", ["unreachable", "wrong-password", "failing-restore"])
def test_given_a_nasty_password_when_anything_fails_then_no_form_of_it_is_printed(pgh, source, target, nasty,
                                                                                   encoded, where):
    src = _url(source, nasty, encoded=encoded)
    if where == "unreachable":
        tgt = _url(target, nasty, encoded=encoded, port=1)
    elif where == "wrong-password":
        tgt = _url(target, nasty, encoded=encoded).replace("x%zz" if not encoded else "x%25zz", "y")
    else:  # the table exists already on the target: the restore fails on it
        pgh.run(target, nasty, "DROP TABLE IF EXISTS t; CREATE TABLE t (id int)")
        tgt = _url(target, nasty, encoded=encoded)
    r = _run(["-m", "heroku2aws.tasks.pg_dump_restore"], {"SOURCE_DATABASE_URL": src, "TARGET_DATABASE_URL": tgt})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert_clean(r.stdout + r.stderr)
    v = _run(["-m", "heroku2aws.postgres.verify_cli", src, tgt])
    assert v.returncode in (1, 2) and "Traceback" not in v.stderr
    assert_clean(v.stdout + v.stderr)
    pgh.assert_no_secret(r.stdout + r.stderr + v.stdout + v.stderr, source, target)
