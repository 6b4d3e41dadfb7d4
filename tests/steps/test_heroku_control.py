"""Stage 6 Heroku control: freeze (maintenance on, dynos to 0), restore, status — against FakeHeroku."""

from __future__ import annotations

import json

import pytest
from helpers import APP, EXECUTION_ID, create_secret, load_handler, with_changes

from heroku2aws.contracts.errors import HerokuApiError, HerokuControlFailed, InvalidInput
from heroku2aws_rehearsal.heroku_api import FakeHeroku

TOKEN = "HRKU-test-0123456789abcdef0123456789abcdef"
FORMATION = [{"type": "web", "quantity": 3, "size": "Standard-2X", "command": "bundle exec puma"},
             {"type": "worker", "quantity": 2, "size": "Standard-1X", "command": "bundle exec sidekiq"},
             {"type": "clock", "quantity": 0, "size": "Standard-1X", "command": "bundle exec clockwork"}]


@pytest.fixture
def heroku():
    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, config_vars={"RAILS_ENV": "production"}, formation=FORMATION)
        yield fake


@pytest.fixture
def control_cfg(cfg, moto, heroku):
    arn = create_secret(f"heroku2aws/{APP}/heroku-api-key", {"api_key": TOKEN})
    return with_changes(cfg, heroku__api_key_secret_arn=arn, heroku__api_url=heroku.url)


def _call(cfg: dict, context, action: str, **more) -> dict:
    return load_handler("heroku_control")({"input": cfg, "action": action, "execution_id": EXECUTION_ID, **more},
                                          context)


def _patches(heroku: FakeHeroku) -> list[str]:
    return [r["path"] for r in heroku.requests if r["method"] == "PATCH"]


def test_given_a_running_app_when_frozen_then_maintenance_is_on_and_every_dyno_is_stopped(control_cfg, heroku, context):
    result = _call(control_cfg, context, "freeze")
    assert result["maintenance_was"] is False
    assert result["formation"] == [{"type": "clock", "quantity": 0, "size": "Standard-1X"},
                                   {"type": "web", "quantity": 3, "size": "Standard-2X"},
                                   {"type": "worker", "quantity": 2, "size": "Standard-1X"}]
    assert result["scaled_to_zero"] == ["web", "worker"]
    state = heroku.get_app_state(APP)
    assert state["maintenance"] is True
    assert {t: p["quantity"] for t, p in state["formation"].items()} == {"web": 0, "worker": 0, "clock": 0}
    # read first, then maintenance, then the formation
    order = [(r["method"], r["path"]) for r in heroku.requests]
    assert order.index(("PATCH", f"/apps/{APP}")) < order.index(("PATCH", f"/apps/{APP}/formation"))
    assert order.index(("GET", f"/apps/{APP}/formation")) < order.index(("PATCH", f"/apps/{APP}"))


def test_given_a_frozen_app_when_frozen_again_then_nothing_is_sent(control_cfg, heroku, context):
    _call(control_cfg, context, "freeze")
    heroku.clear_requests()
    again = _call(control_cfg, context, "freeze")
    assert _patches(heroku) == []
    assert again["maintenance_was"] is True
    assert again["scaled_to_zero"] == []


def test_given_a_frozen_app_when_restored_then_formation_and_maintenance_come_back(control_cfg, heroku, context):
    frozen = _call(control_cfg, context, "freeze")
    result = _call(control_cfg, context, "restore", formation=frozen["formation"], maintenance=frozen["maintenance_was"])
    assert result["maintenance"] is False
    assert sorted(result["changed"]) == ["web", "worker"]
    assert result["skipped"] == []
    state = heroku.get_app_state(APP)
    assert state["maintenance"] is False
    assert {t: (p["quantity"], p["size"]) for t, p in state["formation"].items()} == {
        "web": (3, "Standard-2X"), "worker": (2, "Standard-1X"), "clock": (0, "Standard-1X")}


def test_given_a_restored_app_when_restored_again_then_nothing_is_sent(control_cfg, heroku, context):
    frozen = _call(control_cfg, context, "freeze")
    _call(control_cfg, context, "restore", formation=frozen["formation"], maintenance=False)
    heroku.clear_requests()
    again = _call(control_cfg, context, "restore", formation=frozen["formation"], maintenance=False)
    assert _patches(heroku) == []
    assert again["changed"] == []


def test_given_a_changed_size_and_a_vanished_type_when_restored_then_size_is_set_and_the_type_skipped(
        control_cfg, heroku, context):
    formation = [{"type": "web", "quantity": 1, "size": "performance-m"},
                 {"type": "gone", "quantity": 4, "size": "Standard-1X"}]
    result = _call(control_cfg, context, "restore", formation=formation, maintenance=True)
    assert result["changed"] == ["web"]
    assert result["skipped"] == ["gone"]
    state = heroku.get_app_state(APP)
    assert state["formation"]["web"]["quantity"] == 1 and state["formation"]["web"]["size"] == "Performance-M"
    assert state["maintenance"] is True


def test_given_an_app_when_status_is_asked_then_formation_and_maintenance_are_read_only(control_cfg, heroku, context):
    result = _call(control_cfg, context, "status")
    assert result == {"maintenance": False, "formation": [
        {"type": "clock", "quantity": 0, "size": "Standard-1X"}, {"type": "web", "quantity": 3, "size": "Standard-2X"},
        {"type": "worker", "quantity": 2, "size": "Standard-1X"}]}
    assert _patches(heroku) == []


def test_given_transient_503s_when_frozen_then_the_client_retries_and_succeeds(control_cfg, heroku, context, no_backoff):
    heroku.fail_next(f"/apps/{APP}/formation", times=2, status=503, method="PATCH")
    result = _call(control_cfg, context, "freeze")
    assert result["scaled_to_zero"] == ["web", "worker"]
    assert heroku.get_app_state(APP)["formation"]["web"]["quantity"] == 0
    assert len(no_backoff) == 2


def test_given_a_persistent_outage_when_frozen_then_heroku_api_error_is_left_for_the_asl_to_retry(
        control_cfg, heroku, context, no_backoff):
    heroku.fail_next(f"/apps/{APP}", times=10, status=503, method="PATCH")
    with pytest.raises(HerokuApiError) as err:
        _call(control_cfg, context, "freeze")
    assert type(err.value).__name__ == "HerokuApiError"  # the name the ASL's Retry matches
    assert "503 unavailable" in str(err.value)
    assert TOKEN not in str(err.value)


def test_given_an_unknown_app_when_frozen_then_heroku_control_failed_with_not_found(control_cfg, heroku, context):
    cfg = with_changes(control_cfg, heroku__app="other-app")
    with pytest.raises(HerokuControlFailed, match="404 not_found") as err:
        _call(cfg, context, "freeze")
    assert TOKEN not in str(err.value)
    assert (err.value.status, err.value.error_id) == (404, "not_found")


def test_given_a_wrong_api_key_when_frozen_then_the_error_says_unauthorized_without_the_key(
        control_cfg, heroku, context):
    wrong = "HRKU-wrong-0123456789abcdef0123456789abcdef"
    arn = create_secret(f"heroku2aws/{APP}/wrong-key", wrong)
    cfg = with_changes(control_cfg, heroku__api_key_secret_arn=arn)
    with pytest.raises(HerokuControlFailed, match="401 unauthorized") as err:
        _call(cfg, context, "freeze")
    assert wrong not in str(err.value) and TOKEN not in str(err.value)
    assert heroku.get_app_state(APP)["maintenance"] is False


def test_given_a_missing_key_secret_when_frozen_then_heroku_control_failed_names_the_arn(control_cfg, context):
    arn = control_cfg["heroku"]["api_key_secret_arn"].replace("heroku-api-key", "missing-key")
    with pytest.raises(HerokuControlFailed, match="ResourceNotFoundException"):
        _call(with_changes(control_cfg, heroku__api_key_secret_arn=arn), context, "freeze")


def test_given_an_unknown_action_when_called_then_invalid_input(control_cfg, context):
    with pytest.raises(InvalidInput, match="action"):
        _call(control_cfg, context, "destroy")


def test_given_any_result_when_returned_then_it_holds_no_secret(control_cfg, context):
    frozen = _call(control_cfg, context, "freeze")
    restored = _call(control_cfg, context, "restore", formation=frozen["formation"])
    assert TOKEN not in json.dumps([frozen, restored])


def test_given_heroku_control_failed_when_pickled_then_its_fields_survive():
    import pickle

    err = pickle.loads(pickle.dumps(HerokuControlFailed("Heroku freeze of app a failed: 404 not_found: x", 404, "not_found")))  # noqa: S301
    assert (str(err), err.status, err.error_id) == ("Heroku freeze of app a failed: 404 not_found: x", 404, "not_found")
