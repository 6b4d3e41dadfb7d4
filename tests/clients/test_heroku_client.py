"""The deployed HerokuClient against the local Heroku Platform API stand-in, endpoint by endpoint."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request

import pytest

from heroku2aws.clients.heroku import HerokuApiError, HerokuClient
from heroku2aws_rehearsal.heroku_api import FakeHeroku
from heroku2aws_rehearsal.servers import free_port

TOKEN = "HRKU-0123456789abcdef0123456789abcdef"
APP = "sample-app"
CONFIG = {"WEB_CONCURRENCY": "2", "LOG_LEVEL": "info", "SECRET_KEY_BASE": "s3cr3t-base",
          "DATABASE_URL": "postgres://u:p@h:5432/d", "REDIS_URL": "rediss://:p@h:6379"}
FORMATION = [{"type": "web", "quantity": 2, "size": "standard-1x", "command": "python -m app.web"},
             {"type": "worker", "quantity": 1, "size": "standard-2x", "command": "python -m app.worker"}]


def raw_get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A bare HTTP GET (no client): status, headers, body."""
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - a local http URL
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
def heroku():
    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, config_vars=CONFIG, formation=FORMATION,
                     addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": ["REDIS_URL", "REDIS_TLS_URL"]})
        fake.add_app("other-app", config_vars={"A": "1"}, formation=[])
        yield fake


@pytest.fixture
def client(heroku):
    return HerokuClient(TOKEN, base_url=heroku.url, backoff=0.01)


def test_given_an_app_when_read_then_its_name_region_and_maintenance(client, heroku):
    app = client.get_app(APP)
    assert app["name"] == APP and app["maintenance"] is False
    assert app["region"]["name"] == "us" and app["stack"]["name"] == "heroku-24"
    for key in ("id", "created_at", "updated_at", "web_url", "owner", "git_url", "build_stack"):
        assert key in app
    assert app["web_url"].startswith("https://sample-app-") and app["web_url"].endswith(".herokuapp.com/")
    assert client.get_app(app["id"])["name"] == APP   # by id as well as by name
    assert heroku.requests[0] == {"method": "GET", "path": f"/apps/{APP}", "status": 200}


def test_given_maintenance_set_when_set_back_then_the_app_is_as_before(client, heroku):
    assert client.set_maintenance(APP, True)["maintenance"] is True
    assert client.get_app(APP)["maintenance"] is True
    assert heroku.get_app_state(APP)["maintenance"] is True
    assert client.set_maintenance(APP, False)["maintenance"] is False
    assert client.get_app(APP)["maintenance"] is False
    assert [(r["method"], r["status"]) for r in heroku.requests] == [("PATCH", 200), ("GET", 200), ("PATCH", 200),
                                                                    ("GET", 200)]


def test_given_config_vars_when_updated_then_the_full_set_comes_back(client, heroku):
    assert client.get_config_vars(APP) == CONFIG
    after = client.update_config_vars(APP, {"LOG_LEVEL": "debug", "NEW_VAR": "x", "WEB_CONCURRENCY": None})
    expected = {**CONFIG, "LOG_LEVEL": "debug", "NEW_VAR": "x"}
    del expected["WEB_CONCURRENCY"]
    assert after == expected                            # the full set comes back
    assert client.get_config_vars(APP) == expected
    assert client.update_config_vars(APP, {"NOT_THERE": None}) == expected   # deleting nothing is fine


def test_given_a_formation_when_read_then_every_process_type_with_its_size(client):
    formation = client.get_formation(APP)
    assert sorted((f["type"], f["quantity"], f["size"], f["command"]) for f in formation) == [
        ("web", 2, "Standard-1X", "python -m app.web"), ("worker", 1, "Standard-2X", "python -m app.worker")]
    for f in formation:
        assert f["app"]["name"] == APP and f["id"] and f["updated_at"]
    web = client.get_formation_type(APP, "web")
    assert web["type"] == "web" and web["quantity"] == 2


def test_given_a_formation_when_scaled_and_scaled_back_then_it_is_as_before(client, heroku):
    before = sorted((f["type"], f["quantity"], f["size"]) for f in client.get_formation(APP))
    updated = client.update_formation(APP, [{"type": "web", "quantity": 0}, {"type": "worker", "quantity": 0}])
    assert sorted((f["type"], f["quantity"]) for f in updated) == [("web", 0), ("worker", 0)]
    assert heroku.get_app_state(APP)["formation"]["web"]["quantity"] == 0
    # Restore what was read: quantities and sizes.
    client.update_formation(APP, [{"type": t, "quantity": q, "size": s} for t, q, s in before])
    assert sorted((f["type"], f["quantity"], f["size"]) for f in client.get_formation(APP)) == before
    single = client.scale(APP, "worker", quantity=3, size="performance-m")
    assert (single["quantity"], single["size"]) == (3, "Performance-M")  # Heroku's spelling comes back
    assert client.get_formation_type(APP, "worker")["quantity"] == 3


def test_given_a_bad_formation_update_when_sent_then_herokus_error_is_raised(client, heroku):
    with pytest.raises(HerokuApiError) as err:
        client.get_formation_type(APP, "clock")
    assert (err.value.status, err.value.id) == (404, "not_found")
    assert err.value.message == "Couldn't find that formation."
    with pytest.raises(HerokuApiError) as err:
        client.update_formation(APP, [{"type": "web", "quantity": 1}, {"type": "clock", "quantity": 1}])
    assert err.value.status == 404
    assert heroku.get_app_state(APP)["formation"]["web"]["quantity"] == 2   # nothing half-applied
    with pytest.raises(HerokuApiError) as err:
        client.update_formation(APP, [{"type": "web", "quantity": -1}])
    assert (err.value.status, err.value.id) == (422, "invalid_params")
    with pytest.raises(HerokuApiError) as err:
        client.scale(APP, "web", size="enormous-9x")
    assert err.value.status == 422


def test_given_addons_when_listed_then_the_config_var_names_they_set(client):
    attachments = client.addon_attachments(APP)
    assert sorted(a["name"] for a in attachments) == ["DATABASE", "REDIS"]
    for a in attachments:
        assert a["app"]["name"] == APP and a["addon"]["id"] and a["id"]
    assert client.addon_attachment_names(APP) == ["DATABASE_URL", "REDIS_TLS_URL", "REDIS_URL"]
    assert client.addon_attachment_names("other-app") == []
    addons = {a["addon_service"]["name"]: a for a in client.addons(APP)}
    assert addons["heroku-postgresql"]["config_vars"] == ["DATABASE_URL"]


def test_given_a_bad_or_missing_token_when_called_then_401(heroku):
    for token in ("wrong-token", TOKEN + "x"):
        with pytest.raises(HerokuApiError) as err:
            HerokuClient(token, base_url=heroku.url).get_app(APP)
        assert (err.value.status, err.value.id, err.value.message) == (401, "unauthorized",
                                                                       "Invalid credentials provided.")
        assert token not in str(err.value)
    status, _, body = raw_get(f"{heroku.url}/apps/{APP}", {"Accept": "application/vnd.heroku+json; version=3"})
    assert status == 401
    assert json.loads(body) == {"id": "unauthorized", "message": "Invalid credentials provided."}
    # The request log never holds the token.
    assert all(set(r) == {"method", "path", "status"} for r in heroku.requests)
    assert TOKEN not in json.dumps(heroku.requests) and "wrong-token" not in json.dumps(heroku.requests)


def test_given_an_unknown_app_when_read_then_404(client):
    with pytest.raises(HerokuApiError) as err:
        client.get_config_vars("no-such-app")
    assert (err.value.status, err.value.id, err.value.message) == (404, "not_found", "Couldn't find that app.")
    with pytest.raises(HerokuApiError):
        client.set_maintenance("no-such-app", True)


def test_given_a_request_when_sent_then_herokus_v3_headers_and_json(heroku):
    auth = {"Accept": "application/vnd.heroku+json; version=3", "Authorization": f"Bearer {TOKEN}"}
    status, headers, body = raw_get(f"{heroku.url}/apps/nope", auth)
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"id": "not_found", "resource": "app", "message": "Couldn't find that app."}
    status, headers, body = raw_get(f"{heroku.url}/apps/{APP}", auth)
    assert status == 200 and json.loads(body)["name"] == APP and "Request-Id" in headers
    status, _, _ = raw_get(f"{heroku.url}/apps/{APP}", {**auth, "Accept": "application/vnd.heroku+json; version=2"})
    assert status == 406
    status, _, body = raw_get(f"{heroku.url}/account", auth)
    assert status == 404 and json.loads(body)["id"] == "not_found"


def test_given_one_503_when_called_then_it_is_retried(client, heroku):
    heroku.fail_next(f"/apps/{APP}/config-vars", times=2, status=503)
    assert client.get_config_vars(APP) == CONFIG
    statuses = [r["status"] for r in heroku.requests if r["path"] == f"/apps/{APP}/config-vars"]
    assert statuses == [503, 503, 200]


def test_given_429s_when_called_then_retry_after_is_honoured_until_it_gives_up(heroku):
    client = HerokuClient(TOKEN, base_url=heroku.url, backoff=0.01, retries=2)
    heroku.fail_next(f"/apps/{APP}", times=1, status=429, headers={"Retry-After": "0.3"})
    started = time.monotonic()
    assert client.get_app(APP)["name"] == APP
    assert time.monotonic() - started >= 0.3
    heroku.fail_next(f"/apps/{APP}/formation", times=5, status=503, method="PATCH")
    with pytest.raises(HerokuApiError) as err:
        client.update_formation(APP, [{"type": "web", "quantity": 0}])
    assert (err.value.status, err.value.id) == (503, "unavailable")
    assert client.get_formation(APP)   # GET on the same path is not affected
    assert heroku.get_app_state(APP)["formation"]["web"]["quantity"] == 2
    assert [r["status"] for r in heroku.requests if r["method"] == "PATCH"] == [503, 503, 503]


def test_given_a_4xx_when_called_then_it_is_not_retried(client, heroku):
    heroku.fail_next(f"/apps/{APP}", times=1, status=403, body={"id": "forbidden", "message": "nope"})
    with pytest.raises(HerokuApiError) as err:
        client.get_app(APP)
    assert (err.value.status, err.value.id, err.value.message) == (403, "forbidden", "nope")
    assert len(heroku.requests) == 1


def test_given_an_unreachable_api_when_called_then_a_clean_error():
    client = HerokuClient(TOKEN, base_url=f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(HerokuApiError) as err:
        client.get_app(APP)
    assert err.value.status == 0 and err.value.id == "unreachable"
    assert TOKEN not in str(err.value)


def test_given_heroku_api_url_in_the_environment_when_built_then_it_is_the_base_url(monkeypatch, heroku):
    monkeypatch.setenv("HEROKU_API_URL", heroku.url + "/")
    assert HerokuClient(TOKEN).get_app(APP)["name"] == APP
    monkeypatch.delenv("HEROKU_API_URL")
    assert HerokuClient(TOKEN).base_url == "https://api.heroku.com"
    assert TOKEN not in repr(HerokuClient(TOKEN))
    with pytest.raises(ValueError):
        HerokuClient(TOKEN, base_url="file:///etc/passwd")


def test_given_any_call_when_logged_then_the_key_is_never_there(client, heroku, caplog):
    caplog.set_level(logging.DEBUG)
    heroku.fail_next(f"/apps/{APP}", times=1, status=503)
    client.get_app(APP)
    with pytest.raises(HerokuApiError):
        HerokuClient(TOKEN, base_url=heroku.url).get_app("nope")
    assert TOKEN not in caplog.text


def test_given_concurrent_clients_when_paging_then_every_answer_is_complete(client, heroku):
    errors = []

    def bump(i: int) -> None:
        try:
            for j in range(10):
                client.update_config_vars(APP, {f"VAR_{i}_{j}": str(j)})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(1 for k in client.get_config_vars(APP) if k.startswith("VAR_")) == 80
    assert len(heroku.requests) == 81


def test_given_the_client_when_imported_then_neither_the_engine_nor_moto_is():
    import subprocess
    import sys

    code = ("import sys, heroku2aws.clients.heroku; "
            "bad = [m for m in sys.modules if m.startswith(('moto', 'heroku2aws_rehearsal'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_given_the_stand_in_when_asked_an_unsupported_change_then_it_refuses(client, heroku):
    state = heroku.get_app_state(APP)
    assert state["formation"]["web"] == {"quantity": 2, "size": "Standard-1X", "command": "python -m app.web"}
    assert state["config_vars"] == CONFIG and state["maintenance"] is False
    assert heroku.get_app_state("no-such-app") is None
    with pytest.raises(HerokuApiError) as err:
        client._request("PATCH", f"/apps/{APP}", {"name": "renamed"})   # not silently ignored
    assert (err.value.status, err.value.id) == (422, "invalid_params")
    with pytest.raises(ValueError):
        client.set_maintenance("", True)
    heroku.clear_requests()
    assert heroku.requests == []
