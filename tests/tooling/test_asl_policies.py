"""statemachine/policies.json is the one source of the ASL's retriers and failure catchers (heroku2aws asl)."""

from __future__ import annotations

import copy
import json

from heroku2aws_cli import main as cli
from heroku2aws_cli.asl import ASL_PATH, load_policies, stamp, tasks


def test_the_deployed_asl_is_what_the_policies_stamp():
    asl = json.loads(ASL_PATH.read_text())
    assert stamp(asl) == asl, "run `heroku2aws asl --write`"
    assert cli.main(["asl", "--check"]) == 0


def test_every_task_retries_what_its_integration_raises_and_every_failure_is_recorded_one_way():
    asl = json.loads(ASL_PATH.read_text())
    policies = load_policies()
    catchers = [c for _, s in tasks(asl) for c in s.get("Catch") or [] if c["Next"] in policies["catch"]["targets"]]
    assert len(catchers) >= 20
    assert all(c["Assign"] == policies["catch"]["catcher"]["Assign"] for c in catchers)
    parse_unwraps = json.dumps(asl).count("$parse(")
    assert parse_unwraps <= 3  # the Lambda cause is unwrapped once per end (rollback, finalize, invalid input)


def test_a_retrier_changed_by_hand_is_drift(tmp_path):
    asl = json.loads(ASL_PATH.read_text())
    drifted = copy.deepcopy(asl)
    name, state = next((n, s) for n, s in tasks(drifted) if s.get("Resource", "").endswith("aws-sdk:ecs:describeServices"))
    state["Retry"][0]["ErrorEquals"] = ["Ecs.ThrottlingException"]
    path = tmp_path / "drifted.asl.json"
    path.write_text(json.dumps(drifted, indent=2) + "\n")
    assert cli.main(["asl", "--check", "--asl", str(path)]) == 1
    assert stamp(drifted) == asl  # --write puts it back


def test_a_catcher_of_a_specific_error_is_left_as_the_state_has_it():
    asl = json.loads(ASL_PATH.read_text())
    specific = [c for _, s in tasks(stamp(asl)) for c in s.get("Catch") or []
                if c["ErrorEquals"][0].startswith("DatabaseMigration.")]
    assert specific and all("failure" not in (c.get("Assign") or {}) for c in specific)
