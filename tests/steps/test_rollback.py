"""The rollback: every compensation newest first, done only once a pass changes nothing (moto + FakeHeroku)."""

from __future__ import annotations

import json

from helpers import APP, EXECUTION_ID, FORMATION, TOKEN, dns_item, load_handler, records, weighted

from heroku2aws.compensations import COMPENSATIONS
from heroku2aws.contracts.ledger import KINDS
from heroku2aws.steps.import_config import upsert_secret
from heroku2aws.steps.rollback import roll_back


def test_given_the_compensations_when_imported_then_every_ledger_kind_has_one():
    assert set(COMPENSATIONS) == set(KINDS)


def test_given_a_stage_4_to_6_ledger_when_rolled_back_twice_then_the_second_pass_does_nothing(
        zone, plain_cname, heroku_cfg, heroku, context):
    weighted(zone, plain_cname, 100)
    ledger = [{"kind": "dns", **dns_item(zone, plain_cname)},
              {"kind": "heroku-maintenance", "app": APP, "was": False},
              {"kind": "heroku-formation", "app": APP, "formation": FORMATION},
              {"kind": "secret-switch", "app": APP}]
    event = {"ledger": ledger, "input": heroku_cfg, "failure": {"Error": "DataMismatch"}, "execution_id": EXECUTION_ID}
    first = load_handler("rollback")(event, context)
    # a pass that changed something is not done: a confirming pass must find nothing left
    assert first["done"] is False and first["pending"] == []
    # newest first: formation before maintenance, both before DNS
    kinds = ["formation" if "formation" in a else "maintenance" if "maintenance" in a else "dns" for a in first["actions"]]
    assert kinds == ["formation", "maintenance", "dns"]
    second = roll_back(ledger, heroku_cfg, first["actions"])
    assert second.model_dump() == {"done": True, "pending": [], "actions": []}
    assert records(zone) == plain_cname
    state = heroku.get_app_state(APP)
    assert state["maintenance"] is False and state["formation"]["web"]["quantity"] == 3
    assert TOKEN not in json.dumps([first, second.model_dump()])


def test_given_a_secret_that_lands_after_the_first_pass_when_rolled_back_again_then_the_confirming_pass_finds_it(moto):
    """A create in flight when a Parallel branch failed can land after a rollback pass: only a pass
    that changes nothing ends the rollback, so the late resource is found and deleted."""
    ledger = [{"kind": "config-secret", "app": APP}]
    first = roll_back(ledger, {})
    assert first.model_dump() == {"done": True, "pending": [], "actions": []}  # nothing there: nothing to confirm
    upsert_secret(f"heroku2aws/{APP}/config", {"A": "1"}, APP, EXECUTION_ID)  # the late create lands
    second = roll_back(ledger, {}, first.actions)
    assert second.done is False and second.actions == [f"deleted secret heroku2aws/{APP}/config (recoverable for 7 days)"]
    third = roll_back(ledger, {}, second.actions)
    assert third.model_dump() == {"done": True, "pending": [], "actions": []}


def test_given_notes_that_repeat_every_pass_when_rolled_back_twice_then_the_rollback_settles():
    ledger = [{"kind": "config-secret", "app": APP}]
    cfg = {"rollback": {"keep_secret": True}}
    first = roll_back(ledger, cfg)
    assert first.done is False and first.actions == [f"kept secret heroku2aws/{APP}/config (rollback.keep_secret)"]
    assert roll_back(ledger, cfg, first.actions).done is True
