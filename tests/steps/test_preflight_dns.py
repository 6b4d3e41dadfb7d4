"""Stage 2, DNS part: the hosted zone and the record, against moto's Route 53."""

from __future__ import annotations

import boto3
import pytest
from helpers import with_changes

from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.steps.preflight import Findings, inspect_dns

ZONE_ID = "Z0123456789ABCDEFGHIJ"
HEROKU = "tranquil-reef-8k2lq9x1vbn3m5c7z4a6s0d8.herokudns.com"
RECORD = "shop.acme-example.com"


@pytest.fixture
def zone(moto):
    from moto.route53.models import HostedZoneIdentifier
    from moto.utilities.id_generator import moto_id_manager

    moto_id_manager.set_custom_id(HostedZoneIdentifier("123456789012", "acme-example.com.", None), ZONE_ID)
    r53 = boto3.client("route53")
    r53.create_hosted_zone(Name="acme-example.com", CallerReference="test")
    yield r53
    moto_id_manager.unset_custom_id(HostedZoneIdentifier("123456789012", "acme-example.com.", None))


def put(r53, *record_sets):
    r53.change_resource_record_sets(HostedZoneId=ZONE_ID, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": rs} for rs in record_sets]})


def cname(value, ttl=60, **extra):
    return {"Name": RECORD, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": value}], **extra}


def check(production_input, **changes):
    cfg = ExecutionInput.model_validate(with_changes(production_input, **changes))
    findings = Findings()
    return inspect_dns(cfg, findings), findings


def test_given_a_plain_cname_to_heroku_when_inspected_then_reported_as_is(zone, production_input):
    put(zone, cname(HEROKU + "."))
    report, findings = check(production_input)
    assert findings.problems == []
    assert report.kind == "cname-to-heroku"
    assert report.record_exists is True
    assert report.zone_name == "acme-example.com."
    assert report.current == [{"Name": RECORD + ".", "Type": "CNAME", "TTL": 60,
                               "ResourceRecords": [{"Value": HEROKU + "."}]}]


def test_given_no_record_when_inspected_then_it_can_be_created_with_a_warning(zone, production_input):
    put(zone, {**cname(HEROKU), "Name": "other.acme-example.com"})
    report, findings = check(production_input)
    assert findings.problems == []
    assert report.kind == "absent" and report.current == [] and report.record_exists is False
    assert any("does not exist yet" in w for w in findings.warnings)


def test_given_weighted_records_when_inspected_then_reported_as_weighted(zone, production_input):
    put(zone, cname(HEROKU, SetIdentifier="heroku", Weight=90),
        cname("acme-storefront-1234567890.us-east-1.elb.amazonaws.com", SetIdentifier="aws", Weight=10))
    report, findings = check(production_input)
    assert findings.problems == []
    assert report.kind == "weighted"
    assert sorted(rs["SetIdentifier"] for rs in report.current) == ["aws", "heroku"]


def test_given_a_cname_elsewhere_when_inspected_then_refused(zone, production_input):
    put(zone, cname("somewhere.example.net"))
    _, findings = check(production_input)
    assert findings.problems == [f"{RECORD}. is a CNAME to somewhere.example.net., not to dns.heroku_target "
                                 f"{HEROKU}."]


def test_given_an_a_record_when_inspected_then_refused(zone, production_input):
    put(zone, {"Name": RECORD, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]})
    _, findings = check(production_input)
    assert "has A record(s): weighted CNAMEs cannot coexist" in findings.problems[0]


def test_given_a_long_ttl_when_inspected_then_warned(zone, production_input):
    put(zone, cname(HEROKU, ttl=3600))
    _, findings = check(production_input)
    assert findings.problems == []
    assert any("TTL 3600 s" in w for w in findings.warnings)


def test_given_a_record_outside_the_zone_when_inspected_then_refused(zone, production_input):
    _, findings = check(production_input, dns__record_name="shop.other-example.org")
    assert findings.problems == [f"dns.record_name shop.other-example.org. is not in hosted zone acme-example.com. "
                                 f"({ZONE_ID})"]


def test_given_the_zone_apex_when_inspected_then_refused(zone, production_input):
    _, findings = check(production_input, dns__record_name="acme-example.com")
    assert any("zone apex" in p for p in findings.problems)


def test_given_an_unknown_zone_when_inspected_then_refused(zone, production_input):
    report, findings = check(production_input, dns__hosted_zone_id="ZNOSUCHZONE1")
    assert report is None
    assert findings.problems == ["Route 53 hosted zone ZNOSUCHZONE1 (dns.hosted_zone_id) not found"]
