"""``dns``: the record back to what it was before the traffic shift, once, in one batch (moto)."""

from __future__ import annotations

import boto3
from helpers import dns_item, records, run_compensation, weighted

import heroku2aws.compensations.dns as comp


def test_given_weighted_records_when_dns_is_undone_then_the_original_cname_is_back_exactly(zone, plain_cname, cfg):
    weighted(zone, plain_cname, 50)
    progress = run_compensation("dns", dns_item(zone, plain_cname), cfg)
    assert records(zone) == plain_cname
    assert progress.pending == []
    assert len(progress.actions) == 1 and "deleted 2" in progress.actions[0]


def test_given_dns_undone_when_undone_again_then_nothing_is_changed(zone, plain_cname, cfg):
    weighted(zone, plain_cname, 100)
    run_compensation("dns", dns_item(zone, plain_cname), cfg)
    again = run_compensation("dns", dns_item(zone, plain_cname), cfg)
    assert again.actions == [] and again.pending == []
    assert records(zone) == plain_cname


def test_given_a_record_that_did_not_exist_before_when_dns_is_undone_then_the_weighted_records_go(zone, cfg):
    weighted(zone, [], 10)
    progress = run_compensation("dns", dns_item(zone, []), cfg)
    assert records(zone) == []
    assert "deleted 2" in progress.actions[0]


def test_given_an_earlier_weighted_original_when_dns_is_undone_then_its_weights_come_back(zone, cfg):
    weighted(zone, [], 0)  # an earlier, interrupted run left heroku 100 / aws 0
    original = records(zone)
    weighted(zone, original, 50)
    run_compensation("dns", dns_item(zone, original), cfg)
    assert records(zone) == original


def test_given_a_deleted_hosted_zone_when_dns_is_undone_then_it_is_reported_not_raised(zone, cfg):
    boto3.client("route53").delete_hosted_zone(Id=zone)
    progress = run_compensation("dns", dns_item(zone, []), cfg)
    assert progress.pending == []
    assert "no longer exists" in progress.actions[0]


def test_given_a_change_that_stays_pending_when_dns_is_undone_then_rollback_waits(zone, plain_cname, cfg, monkeypatch):
    real = boto3.client("route53")

    class Pending:
        def __getattr__(self, name):
            return getattr(real, name)

        def change_resource_record_sets(self, **kw):
            out = real.change_resource_record_sets(**kw)
            out["ChangeInfo"]["Status"] = "PENDING"
            return out

        def get_change(self, Id):  # noqa: N803
            return {"ChangeInfo": {"Id": Id, "Status": "PENDING"}}

    monkeypatch.setattr(comp, "client", lambda service, **kw: Pending())
    monkeypatch.setattr(comp, "DNS_INSYNC_WAIT", 0.2)
    monkeypatch.setattr(comp, "DNS_POLL", 0.05)
    weighted(zone, plain_cname, 50)
    progress = run_compensation("dns", dns_item(zone, plain_cname), cfg)
    assert len(progress.pending) == 1 and "PENDING" in progress.pending[0]
    assert records(zone) == plain_cname
