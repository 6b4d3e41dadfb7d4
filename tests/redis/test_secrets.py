"""Issue 15, secrets: a Redis password holding URL-special characters (legal in ElastiCache AUTH tokens) never
reaches stdout, stderr or a log line of the copy, in any encoding, whatever happens: unreachable server, refused
login, a bad URL, a successful copy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from urllib.parse import quote

import pytest

from heroku2aws.redis.errors import ConfigError
from heroku2aws.redis.urls import parse_endpoint

# Every character urlsplit cuts at or decodes: "#" (fragment), "?" (query), "/" (path), "@" (userinfo), "%" and ":".
PASSWORDS = ["Zq#7Kx!v9Wm", "Zq?7Kx=v9Wm", "Zq@7Kx/v9Wm", "Zq%7Kx%zzv9Wm", "Zq:7#?@/%4Wm"]


def _forms(pw: str) -> set[str]:
    """Every way the password (or a telling piece of it) could appear: raw, percent-encoded, and every piece
    of 5 characters (the tail after a "#" or "?" is what leaked)."""
    forms = {pw, quote(pw, safe=""), quote(pw)}
    forms |= {pw[i:i + 5] for i in range(len(pw) - 4)}
    return forms


def _run(*argv: str) -> tuple[int, str]:
    env = dict(os.environ, POWERTOOLS_LOG_LEVEL="DEBUG", REDIS_PROGRESS_INTERVAL="0.05")
    env.pop("SOURCE_REDIS_URL", None)
    env.pop("TARGET_REDIS_URL", None)
    r = subprocess.run([sys.executable, "-m", "heroku2aws.tasks.redis_restore", *argv, "--json", "--no-progress"],
                       env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_hidden(out: str, pw: str) -> None:
    leaked = sorted(f for f in _forms(pw) if f in out)
    assert not leaked, f"password pieces {leaked!r} in the output:\n{out}"


@pytest.mark.parametrize("pw", PASSWORDS)
def test_url_with_special_password_parses_whole(pw):
    for url in (f"redis://:{pw}@h.example.com:6380/2", f"rediss://default:{pw}@h.example.com:6380",
                f"redis://:{quote(pw, safe='')}@h.example.com:6380/2"):
        e = parse_endpoint(url)
        assert (e.host, e.port, e.password) == ("h.example.com", 6380, pw), url
        _assert_hidden(e.safe + repr(e), pw)


@pytest.mark.parametrize("url", ["redis://:{pw}@h.example.com:99999/0", "redis://:{pw}@h.example.com/x",
                                 "http://:{pw}@h.example.com", "redis://:{pw}@", "redis://:{pw}@ho st"])
def test_bad_urls_never_show_the_password(url):
    for pw in PASSWORDS:
        with pytest.raises(ConfigError) as err:
            parse_endpoint(url.format(pw=pw))
        _assert_hidden(str(err.value), pw)


@pytest.mark.parametrize("pw", PASSWORDS[::2])
def test_unreachable_servers_and_bad_urls(pw):
    port = _free_port()
    for src, tgt in [(f"redis://:{pw}@127.0.0.1:{port}/0", f"rediss://:{pw}@127.0.0.1:{port}"),
                     (f"redis://:{pw}@127.0.0.1:99999", f"redis://:{pw}@127.0.0.1:{port}"),
                     (f"redis://:{quote(pw, safe='')}@127.0.0.1:{port}", f"redis://:{pw}@127.0.0.1:{port}")]:
        status, out = _run(src, tgt)
        assert status == 2, out
        _assert_hidden(out, pw)


@pytest.mark.parametrize("pw", [PASSWORDS[0], PASSWORDS[4]])
def test_reachable_servers_refused_login_and_a_complete_copy(pw):
    from heroku2aws_rehearsal.servers import RedisServer

    with RedisServer(name="secret-src", password=pw).start() as src, \
            RedisServer(name="secret-tgt", password=pw[::-1]).start() as tgt:
        src.client().set("k", "v")
        src_url, tgt_url = f"redis://:{pw}@127.0.0.1:{src.port}/0", f"redis://:{pw[::-1]}@127.0.0.1:{tgt.port}"
        # wrong password on the target: refused login, named without the password
        status, out = _run(src_url, f"redis://:{pw}@127.0.0.1:{tgt.port}")
        assert status == 2 and "refused" in out, out
        _assert_hidden(out, pw)
        # a copy that works: progress, summary, verification lines
        status, out = _run(src_url, tgt_url)
        assert status == 0, out
        _assert_hidden(out, pw)
        _assert_hidden(out, pw[::-1])
