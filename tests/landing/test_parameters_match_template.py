"""heroku2aws.landing.parameters and template.yaml agree (interface A): the same names, and every value init can
choose for a plan the tables know is one the template's constraints accept (AllowedPattern / AllowedValues /
MinValue / MaxValue), so `sam deploy` never refuses what init wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.decode import decode

from heroku2aws.landing.parameters import PARAMETER_NAMES, LandingParameters
from heroku2aws.landing.plans import POSTGRES_PLANS, REDIS_PLANS, choose_postgres, choose_redis

TEMPLATE, _ = decode(str(Path(__file__).resolve().parents[2] / "template.yaml"))
PARAMETERS = TEMPLATE["Parameters"]
INTERFACE_A = {"Landing", "Domain", "ExistingVpcId", "ExistingPublicSubnetIds", "ExistingPrivateSubnetIds",
               "PostgresEngineVersion", "DbInstanceClass", "DbAllocatedStorageGb", "DbMultiAz", "RedisEngine",
               "RedisEngineVersion", "RedisNodeType", "RedisReplicas", "AppPort", "HealthCheckPath",
               "GitHubRepository"}


def accepted(name: str, value: str) -> bool:
    spec = PARAMETERS[name]
    if spec["Type"] == "Number":
        number = float(value)
        return spec.get("MinValue", number) <= number <= spec.get("MaxValue", number)
    if "AllowedValues" in spec and value not in spec["AllowedValues"]:
        return False
    return "AllowedPattern" not in spec or re.fullmatch(spec["AllowedPattern"], value) is not None


def test_the_names_agree():
    assert set(PARAMETER_NAMES.values()) <= set(PARAMETERS)
    assert set(PARAMETER_NAMES.values()) == INTERFACE_A | {"AppName", "HostedZoneId"}


@pytest.mark.parametrize("pg", sorted(POSTGRES_PLANS))
def test_every_postgres_choice_is_accepted_by_the_template(pg):
    choice = choose_postgres(pg)
    params = LandingParameters(app_name="acme-storefront", hosted_zone_id="Z0123456789ABCDEFGHIJ",
                               domain="shop.acme-example.com", postgres_engine_version="16",
                               db_instance_class=choice.instance_class, db_allocated_storage_gb=choice.storage_gb,
                               db_multi_az=choice.multi_az)
    rejected = {n: v for n, v in params.values().items() if PARAMETERS[n]["Type"] != "CommaDelimitedList"
                and not accepted(n, v)}
    assert rejected == {}


@pytest.mark.parametrize("kv", sorted(REDIS_PLANS))
@pytest.mark.parametrize("version", [None, "6.2.14", "7.2.4", "8.0.2"])
def test_every_redis_choice_is_accepted_by_the_template(kv, version):
    choice = choose_redis(kv, version=version)
    params = LandingParameters(app_name="acme-storefront", hosted_zone_id="Z1", redis_engine=choice.engine,  # type: ignore[arg-type]
                               redis_engine_version=choice.engine_version, redis_node_type=choice.node_type,
                               redis_replicas=choice.replicas)
    for name in ("RedisEngine", "RedisEngineVersion", "RedisNodeType", "RedisReplicas"):
        assert accepted(name, params.values()[name]), name


def test_the_defaults_are_the_template_s_where_it_has_one():
    defaults = LandingParameters(app_name="acme-storefront", hosted_zone_id="Z1", landing="none").values()
    for name, value in defaults.items():
        if "Default" in PARAMETERS[name] and name not in ("AppName",):
            assert str(PARAMETERS[name]["Default"]) == value, name
