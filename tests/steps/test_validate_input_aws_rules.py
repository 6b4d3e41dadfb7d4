"""Stage 1 normalises or refuses what AWS itself would refuse later (issue 12)."""

from __future__ import annotations

import re

import pytest
from helpers import EXECUTION_ID, load_handler, with_changes

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.names import dms_endpoint_id, dms_id

handler = load_handler("validate_input")

#: botocore dms/2016-01-01, ReplicationInstanceIdentifier: "1-63 alphanumeric characters or hyphens; first character
#: must be a letter; can't end with a hyphen or contain two consecutive hyphens".
DMS_IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}(?<!-)$")


def invoke(raw, context):
    return handler({"input": raw, "execution_id": EXECUTION_ID}, context)


def test_given_a_prefixed_hosted_zone_id_when_validated_then_the_state_carries_the_bare_id(production_input, context):
    # boto3 strips "/hostedzone/"; Step Functions' aws-sdk:route53 integration does not, and Route 53 refuses it.
    raw = with_changes(production_input, dns__hosted_zone_id="/hostedzone/Z0123456789ABCDEFGHIJ")
    assert invoke(raw, context)["dns"]["hosted_zone_id"] == "Z0123456789ABCDEFGHIJ"


@pytest.mark.parametrize("app", ["shop-", "shop--eu", "sh", "a" * 31, "-shop", "Shop"])
def test_given_an_app_name_that_would_make_an_invalid_dms_identifier_when_validated_then_refused(production_input,
                                                                                                  context, app):
    with pytest.raises(InvalidInput, match="heroku.app"):
        invoke(with_changes(production_input, heroku__app=app), context)


@pytest.mark.parametrize("app", ["abc", "shop-eu-1", "a" * 30, "x1-y2-z3"])
def test_given_an_accepted_app_name_then_every_dms_identifier_built_from_it_is_valid(production_input, context, app):
    out = invoke(with_changes(production_input, heroku__app=app), context)
    for identifier in (dms_id(out["heroku"]["app"]), dms_endpoint_id(app, "source"), dms_endpoint_id(app, "target")):
        assert DMS_IDENTIFIER.match(identifier), identifier
