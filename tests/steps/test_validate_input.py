"""Stage 1: validate the execution input."""

from __future__ import annotations

import json

import pytest
from helpers import EXECUTION_ID, load_handler, with_changes

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.input import ExecutionInput

handler = load_handler("validate_input")

PASTED_KEY = "HRKU-0123456789abcdef0123456789abcdef"
PASTED_URL = "postgres://u9x:pa55w0rd-very-secret@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8k"


def invoke(raw, context):
    return handler({"input": raw, "execution_id": EXECUTION_ID}, context)


def test_given_the_production_example_when_validated_then_it_passes_unchanged_but_normalised(production_input,
                                                                                              context):
    out = invoke(production_input, context)
    assert out == ExecutionInput.model_validate(production_input).model_dump(mode="json")
    assert out["heroku"]["app"] == "acme-storefront"
    json.dumps(out)  # JSON-serialisable


def test_given_a_minimal_input_when_validated_then_defaults_are_filled(production_input, context):
    minimal = with_changes(production_input)
    for section in ("traffic", "timings", "approval", "rollback"):
        minimal.pop(section)
    minimal["database"] = {k: v for k, v in minimal["database"].items()
                           if k in ("dms_subnet_ids", "dms_security_group_ids")}
    minimal["ecs"].pop("port")
    minimal["ecs"].pop("procfile")
    minimal["dns"].pop("ttl")

    out = invoke(minimal, context)

    assert out["version"] == 1
    assert out["heroku"]["api_url"] == "https://api.heroku.com"
    assert out["database"]["strategy"] == "dms-full-load"
    assert out["database"]["dms_instance_class"] == "dms.t3.medium"
    assert out["ecs"]["port"] == 5000
    assert out["ecs"]["procfile"] is None
    assert out["dns"]["ttl"] == 60
    assert out["traffic"]["steps"] == [10, 50, 100]
    assert out["timings"]["poll_seconds"] == 30
    assert out["approval"]["required"] is True
    assert out["rollback"] == {"keep_secret": False, "keep_services": False}


@pytest.mark.parametrize(("changes", "field"), [
    ({"heroku__app": "Bad_App"}, "heroku.app"),
    ({"heroku__api_url": "ftp://example.com"}, "heroku.api_url"),
    ({"source__redis_secret_arn": "arn:aws:s3:::bucket"}, "source.redis_secret_arn"),
    ({"ecs__subnets": ["subnet-xyz"]}, "ecs.subnets[0]"),
    ({"ecs__subnets": []}, "ecs.subnets"),
    ({"ecs__port": 0}, "ecs.port"),
    ({"ecs__cluster_arn": "my-cluster"}, "ecs.cluster_arn"),
    ({"ecs__assign_public_ip": "perhaps"}, "ecs.assign_public_ip"),
    ({"load_balancer__health_url": "not a url"}, "load_balancer.health_url"),
    ({"dns__ttl": 300}, "dns.ttl"),
    ({"dns__heroku_target": "example.com"}, "dns.heroku_target"),
    ({"dns__hosted_zone_id": "zone"}, "dns.hosted_zone_id"),
    ({"traffic__steps": [50, 10, 100]}, "traffic.steps"),
    ({"traffic__steps": [10, 50]}, "traffic.steps"),
    ({"database__strategy": "magic"}, "database.strategy"),
    ({"database__dms_subnet_ids": ["subnet-0a1b2c3d4e5f60718"]}, "database.dms_subnet_ids"),
    ({"timings__poll_seconds": -1}, "timings.poll_seconds"),
    ({"approval": "yes"}, "approval"),
    ({"version": 2}, "version"),
    ({"colour": "blue"}, "colour"),
])
def test_given_one_bad_field_when_validated_then_invalid_input_names_it(production_input, context, changes, field):
    with pytest.raises(InvalidInput) as err:
        invoke(with_changes(production_input, **changes), context)
    message = str(err.value)
    assert f"{field}:" in message
    assert "input_value" not in message
    assert type(err.value).__name__ == "InvalidInput"


def test_given_a_missing_section_when_validated_then_it_is_named(production_input, context):
    raw = with_changes(production_input)
    del raw["load_balancer"]
    with pytest.raises(InvalidInput, match=r"load_balancer: Field required"):
        invoke(raw, context)


def test_given_several_bad_fields_when_validated_then_every_one_is_named(production_input, context):
    raw = with_changes(production_input, ecs__port=70000, dns__ttl=0, heroku__app="X")
    with pytest.raises(InvalidInput) as err:
        invoke(raw, context)
    message = str(err.value)
    assert "(3 problems)" in message
    for field in ("ecs.port:", "dns.ttl:", "heroku.app:"):
        assert field in message


@pytest.mark.parametrize("where", ["heroku__api_key_secret_arn", "source__postgres_secret_arn",
                                   "target__redis_secret_arn", "ecs__image", "heroku__app"])
@pytest.mark.parametrize("secret", [PASTED_KEY, PASTED_URL, "sk_live_51HxyzABCdefGHIjklMNO"])
def test_given_a_pasted_secret_when_validated_then_it_is_never_echoed(production_input, context, where, secret):
    with pytest.raises(InvalidInput) as err:
        invoke(with_changes(production_input, **{where: secret}), context)
    message = str(err.value)
    assert where.replace("__", ".") + ":" in message
    assert secret not in message
    for fragment in ("pa55w0rd", "0123456789abcdef", "51HxyzABC"):
        assert fragment not in message


def test_given_a_database_url_inside_the_procfile_when_validated_then_refused_without_echo(production_input, context):
    raw = with_changes(production_input, ecs__procfile=f"web: run --db {PASTED_URL}\n")
    with pytest.raises(InvalidInput) as err:
        invoke(raw, context)
    assert "ecs.procfile: looks like a secret value" in str(err.value)
    assert "pa55w0rd" not in str(err.value)


def test_given_a_pasted_secret_as_an_unexpected_key_when_validated_then_the_key_is_not_echoed(production_input,
                                                                                               context):
    raw = with_changes(production_input)
    raw["heroku"][PASTED_KEY] = True
    with pytest.raises(InvalidInput) as err:
        invoke(raw, context)
    assert PASTED_KEY not in str(err.value)
    assert "heroku.<an unexpected key" in str(err.value)


def test_given_the_same_postgres_secret_for_source_and_target_when_validated_then_refused(production_input, context):
    raw = with_changes(production_input, target__postgres_secret_arn=production_input["source"]["postgres_secret_arn"])
    with pytest.raises(InvalidInput, match="source.postgres_secret_arn and target.postgres_secret_arn"):
        invoke(raw, context)


def test_given_only_one_redis_secret_when_validated_then_refused(production_input, context):
    raw = with_changes(production_input, target__redis_secret_arn=None)
    with pytest.raises(InvalidInput, match="redis_secret_arn"):
        invoke(raw, context)


@pytest.mark.parametrize(("raw", "kind"), [([1, 2], "array"), ("{}", "string"), (None, "null"), (42, "number")])
def test_given_non_object_input_when_validated_then_refused(context, raw, kind):
    with pytest.raises(InvalidInput, match=f"must be a JSON object, got {kind}"):
        invoke(raw, context)


def test_given_an_input_over_32_kib_when_validated_then_refused(production_input, context):
    raw = with_changes(production_input, ecs__procfile="# " + "x" * 19_000 + "\nweb: run\n")
    raw["padding"] = "y" * 20_000
    with pytest.raises(InvalidInput, match=r"at most 32768 \(32 KiB\)"):
        invoke(raw, context)


def test_given_an_event_without_execution_id_when_invoked_then_invalid_input_names_it(production_input, context):
    with pytest.raises(InvalidInput, match=r"execution_id: Field required"):
        handler({"input": production_input}, context)


def test_given_a_validation_error_when_raised_then_no_pydantic_error_is_chained(production_input, context):
    with pytest.raises(InvalidInput) as err:
        invoke(with_changes(production_input, heroku__api_key_secret_arn=PASTED_KEY), context)
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__
