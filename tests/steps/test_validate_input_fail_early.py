"""Issue 15, "Fail early and clearly": what the issue found validation let through, each refused in stage 1 with
the reason (or, for dump-restore without the DMS-only fields, no longer refused)."""

from __future__ import annotations

import copy

import pytest
from helpers import EXECUTION_ID, load_handler, with_changes

from heroku2aws.contracts.errors import InvalidInput

handler = load_handler("validate_input")


def invoke(raw, context):
    return handler({"input": raw, "execution_id": EXECUTION_ID}, context)


def _other_region(arn: str) -> str:
    return arn.replace(":us-east-1:", ":eu-west-1:")


CASES = [
    ("an http:// Heroku API URL (the key in clear text)", {"heroku__api_url": "http://api.heroku.com"},
     r"heroku.api_url: must be an https:// URL"),
    ("Unicode digits where the account ID goes", {"ecs__cluster_arn":
     "arn:aws:ecs:us-east-1:\u0661\u0661\u0661\u0661\u0662\u0662\u0662\u0662\u0663\u0663\u0663\u0663:cluster/acme"},
     r"ecs.cluster_arn: String should match pattern"),
    ("the same subnet twice", {"ecs__subnets": ["subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60718"]},
     r"ecs.subnets lists subnet-0a1b2c3d4e5f60718 more than once"),
    ("the same DMS subnet twice", {"database__dms_subnet_ids": ["subnet-0a1b2c3d4e5f60718"] * 2},
     r"database.dms_subnet_ids lists subnet-0a1b2c3d4e5f60718 more than once"),
    ("the same security group twice", {"ecs__security_groups": ["sg-0123456789abcdef0"] * 2},
     r"ecs.security_groups lists sg-0123456789abcdef0 more than once"),
    ("a Procfile starting with a byte-order mark", {"ecs__procfile": "\ufeffweb: bin/web\n"},
     r"ecs.procfile: starts with a byte-order mark"),
]


@pytest.mark.parametrize(("what", "changes", "reason"), CASES, ids=[c[0] for c in CASES])
def test_given_what_the_issue_found_when_validated_then_refused_with_the_reason(production_input, context, what,
                                                                                changes, reason):
    with pytest.raises(InvalidInput, match=reason):
        invoke(with_changes(production_input, **changes), context)


def test_given_a_cluster_in_another_region_when_validated_then_refused_naming_it(production_input, context):
    raw = with_changes(production_input, ecs__cluster_arn=_other_region(production_input["ecs"]["cluster_arn"]))
    with pytest.raises(InvalidInput, match=r"ecs.cluster_arn \(eu-west-1\) not in region us-east-1 of the other"):
        invoke(raw, context)
    raw = with_changes(production_input, target__redis_secret_arn=_other_region(
        production_input["target"]["redis_secret_arn"]))
    with pytest.raises(InvalidInput, match=r"target.redis_secret_arn \(eu-west-1\) not in region us-east-1"):
        invoke(raw, context)


def test_given_the_same_redis_secret_for_source_and_target_when_validated_then_refused(production_input, context):
    raw = with_changes(production_input, target__redis_secret_arn=production_input["source"]["redis_secret_arn"])
    with pytest.raises(InvalidInput, match="source.redis_secret_arn and target.redis_secret_arn are the same secret"):
        invoke(raw, context)


def test_given_dump_restore_without_the_dms_fields_when_validated_then_accepted(production_input, context):
    raw = copy.deepcopy(production_input)
    raw["database"] = {"strategy": "dump-restore"}
    cfg = invoke(raw, context)
    assert cfg["database"]["strategy"] == "dump-restore" and cfg["database"]["dms_subnet_ids"] is None


def test_given_a_dms_strategy_without_the_dms_fields_when_validated_then_refused_naming_them(production_input,
                                                                                           context):
    raw = copy.deepcopy(production_input)
    raw["database"] = {"strategy": "dms-full-load"}
    with pytest.raises(InvalidInput, match=r"database.dms_subnet_ids and database.dms_security_group_ids are needed "
                                           r"by the dms-full-load strategy"):
        invoke(raw, context)


def test_given_the_rehearsal_stand_in_on_this_machine_when_validated_then_http_is_accepted(production_input, context):
    for url in ("http://127.0.0.1:8123", "http://localhost:8123/", "http://[::1]:8123"):
        assert invoke(with_changes(production_input, heroku__api_url=url), context)["heroku"]["api_url"] == url
    with pytest.raises(InvalidInput, match="https://"):
        invoke(with_changes(production_input, heroku__api_url="http://127.0.0.1.example.com"), context)
