"""The landing's data-store rules (heroku2aws_conformance.landing) on the real template and on broken copies."""

from __future__ import annotations

import copy

import pytest

from heroku2aws_conformance import landing
from heroku2aws_conformance.finding import TEMPLATE


@pytest.fixture(scope="module")
def template() -> dict:
    from heroku2aws_rehearsal.deploy import load_template

    return load_template(TEMPLATE)


def rules(findings) -> list[tuple[str, str]]:
    return sorted((f.where, f.rule) for f in findings)


def test_the_template_keeps_its_data_stores(template):
    assert landing.check_template(template) == []
    stores = [k for k, v in template["Resources"].items() if v["Type"] in landing.DATA_STORES]
    assert sorted(stores) == ["LandingDatabase", "LandingRedis"]  # the rule has something to hold


@pytest.mark.parametrize("store", ["LandingDatabase", "LandingRedis"])
def test_a_data_store_without_a_deletion_policy(template, store):
    broken = copy.deepcopy(template)
    del broken["Resources"][store]["DeletionPolicy"]
    assert rules(landing.check_template(broken)) == [(store, "template.data-store-policy")]


def test_a_data_store_deleted_with_its_stack(template):
    broken = copy.deepcopy(template)
    broken["Resources"]["LandingRedis"]["UpdateReplacePolicy"] = "Delete"
    assert rules(landing.check_template(broken)) == [("LandingRedis", "template.data-store-policy")]


@pytest.mark.parametrize(("store", "prop"), [("LandingDatabase", "DeletionProtection"),
                                             ("LandingDatabase", "StorageEncrypted"),
                                             ("LandingRedis", "TransitEncryptionEnabled"),
                                             ("LandingRedis", "AtRestEncryptionEnabled")])
def test_an_unprotected_data_store(template, store, prop):
    broken = copy.deepcopy(template)
    broken["Resources"][store]["Properties"][prop] = False
    assert rules(landing.check_template(broken)) == [(store, "template.data-store-protection")]


def test_an_output_showing_a_secret(template):
    broken = copy.deepcopy(template)
    broken["Outputs"]["Leak"] = {"Value": {"Fn::Sub": "{{resolve:secretsmanager:${LandingRedisAuthSecret}:SecretString:token}}"}}
    assert rules(landing.check_template(broken)) == [("Outputs/Leak", "template.secret-in-output")]
