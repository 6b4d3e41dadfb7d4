"""LandingParameters as samconfig.toml's parameter_overrides: SAM CLI's own parser reads back every value."""

from __future__ import annotations

import pytest
from samcli.cli.types import CfnParameterOverridesType

from heroku2aws.landing.parameters import PARAMETER_NAMES, LandingParameters


def parsed(text: str) -> dict[str, str]:
    return dict(CfnParameterOverridesType().convert(text, None, None))


def test_every_field_round_trips_through_sam_cli_s_parser():
    params = LandingParameters(app_name="acme-storefront", hosted_zone_id="Z0123456789ABCDEFGHIJ",
                               domain="shop.acme-example.com", existing_vpc_id="vpc-0abc",
                               existing_public_subnet_ids=("subnet-a", "subnet-b"),
                               existing_private_subnet_ids=("subnet-c", "subnet-d"), postgres_engine_version="16",
                               db_instance_class="db.r6g.large", db_allocated_storage_gb=512, db_multi_az=True,
                               redis_engine="valkey", redis_engine_version="7.2", redis_node_type="cache.r6g.large",
                               redis_replicas=1, app_port=3000, health_check_path="/up health",
                               github_repository="acme/storefront")
    values = parsed(params.to_overrides())
    assert values == params.values()
    assert set(values) == set(PARAMETER_NAMES.values())
    assert values["ExistingPublicSubnetIds"] == "subnet-a,subnet-b"
    assert values["DbMultiAz"] == "true" and values["HealthCheckPath"] == "/up health"


def test_empty_values_stay_empty():
    values = parsed(LandingParameters(app_name="a-b-c", hosted_zone_id="Z1").to_overrides())
    assert values["ExistingVpcId"] == "" and values["RedisEngineVersion"] == "" and values["Landing"] == "create"


@pytest.mark.parametrize("bad", ['/a"b', "/a\\b", "/a\nb"])
def test_a_value_sam_cannot_carry_is_refused(bad):
    with pytest.raises(ValueError, match="HealthCheckPath"):
        LandingParameters(app_name="a-b-c", hosted_zone_id="Z1", health_check_path=bad).to_overrides()
