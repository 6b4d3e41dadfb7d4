"""``heroku-maintenance`` and ``heroku-formation``: Heroku back to how the freeze found it, once (FakeHeroku)."""

from __future__ import annotations

import pytest
from helpers import APP, FORMATION, create_secret, run_compensation, with_changes

from heroku2aws.contracts.errors import HerokuControlFailed


def test_given_a_frozen_app_when_formation_is_undone_then_the_dynos_come_back_once(heroku_cfg, heroku):
    first = run_compensation("heroku-formation", {"app": APP, "formation": FORMATION}, heroku_cfg)
    assert first.actions == [f"restored Heroku formation of {APP}: web=3, worker=1"]
    heroku.clear_requests()
    second = run_compensation("heroku-formation", {"app": APP, "formation": FORMATION}, heroku_cfg)
    assert second.actions == [] and second.pending == []
    assert [r for r in heroku.requests if r["method"] == "PATCH"] == []
    assert {t: p["quantity"] for t, p in heroku.get_app_state(APP)["formation"].items()} == {"web": 3, "worker": 1}


def test_given_maintenance_on_when_it_is_undone_then_it_is_back_off_once(heroku_cfg, heroku):
    first = run_compensation("heroku-maintenance", {"app": APP, "was": False}, heroku_cfg)
    assert first.actions == [f"Heroku maintenance mode of {APP} back off"]
    assert heroku.get_app_state(APP)["maintenance"] is False
    second = run_compensation("heroku-maintenance", {"app": APP, "was": False}, heroku_cfg)
    assert second.actions == []


def test_given_an_app_that_was_in_maintenance_already_when_undone_then_it_stays_on(heroku_cfg, heroku):
    progress = run_compensation("heroku-maintenance", {"app": APP, "was": True}, heroku_cfg)
    assert progress.actions == []
    assert heroku.get_app_state(APP)["maintenance"] is True


def test_given_a_deleted_heroku_app_when_undone_then_it_is_reported_not_raised(heroku_cfg):
    cfg = with_changes(heroku_cfg, heroku__app="gone-app")
    f = run_compensation("heroku-formation", {"app": "gone-app", "formation": FORMATION}, cfg)
    m = run_compensation("heroku-maintenance", {"app": "gone-app", "was": False}, cfg)
    assert "not found" in f.actions[0] and "not found" in m.actions[0]
    assert f.pending == m.pending == []


def test_given_a_heroku_outage_when_undone_then_rollback_waits_and_tries_again(heroku_cfg, heroku, no_backoff):
    heroku.fail_next(f"/apps/{APP}", times=20, status=503)
    progress = run_compensation("heroku-maintenance", {"app": APP, "was": False}, heroku_cfg)
    assert len(progress.pending) == 1 and "503" in progress.pending[0]
    assert heroku.get_app_state(APP)["maintenance"] is True


def test_given_a_revoked_api_key_when_undone_then_it_raises_for_a_person(heroku_cfg, heroku):
    arn = create_secret(f"heroku2aws/{APP}/revoked", "HRKU-revoked-0123456789abcdef0123456789ab")
    with pytest.raises(HerokuControlFailed, match="401"):
        run_compensation("heroku-maintenance", {"app": APP, "was": False},
                         with_changes(heroku_cfg, heroku__api_key_secret_arn=arn))
