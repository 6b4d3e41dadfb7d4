"""Each Heroku add-on gets a plan line: migrated, kept, replaced (with its AWS counterpart) or unknown (kept)."""

from __future__ import annotations

import pytest

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws.landing.addons import ADDONS, addon_lines, mapping_for
from heroku2aws_rehearsal.heroku_api import FakeHeroku

APP, OTHER = "acme-storefront", "acme-reports"


@pytest.mark.parametrize(("service", "action", "counterpart"), [
    ("heroku-postgresql", "migrated", "RDS"), ("heroku-redis", "migrated", "ElastiCache"),
    ("scheduler", "replaced", "EventBridge Scheduler"), ("papertrail", "replaced", "CloudWatch Logs"),
    ("logdna", "replaced", "CloudWatch Logs"), ("bucketeer", "replaced", "S3"), ("cloudcube", "replaced", "S3"),
    ("heroku-kafka", "replaced", "MSK"), ("quotaguardstatic", "replaced", "NAT"), ("sendgrid", "kept", "SaaS"),
    ("cloudamqp", "kept", "SaaS"), ("SENTRY", "kept", "SaaS"),
])
def test_known_add_ons(service, action, counterpart):
    mapping = mapping_for(service)
    assert mapping.action == action and counterpart in mapping.counterpart


def test_an_unknown_add_on_is_kept_with_a_note():
    mapping = mapping_for("acme-magic-widgets")
    assert mapping.action == "unknown" and "does not know" in mapping.note


def test_every_replaced_add_on_names_what_to_do():
    for service, mapping in ADDONS.items():
        assert mapping.counterpart, service
        if mapping.action == "replaced":
            assert mapping.note, service


def test_lines_from_the_stand_in_s_platform_api_answers():
    with FakeHeroku() as fake:
        fake.add_app(APP, addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": "REDIS_URL",
                                             "PAPERTRAIL": "PAPERTRAIL_API_TOKEN", "SCHEDULER": [],
                                             "WIDGETS": "WIDGETS_URL"},
                     addon_plans={"DATABASE": "heroku-postgresql:standard-0", "REDIS": "heroku-redis:premium-0",
                                  "PAPERTRAIL": "papertrail:fixa", "SCHEDULER": "scheduler:standard",
                                  "WIDGETS": "acme-widgets:basic"})
        fake.add_app(OTHER, addon_attachments={"DATABASE": "DATABASE_URL"},
                     addon_plans={"DATABASE": "heroku-postgresql:premium-0"})
        fake.attach(OTHER, "DATABASE", APP, "REPORTS_DATABASE")
        api = HerokuClient(fake.token, fake.url, retries=0)
        lines = addon_lines(APP, api.addons(APP), api.addon_attachments(APP))
    by_plan = {line.plan: line for line in lines}
    assert by_plan["heroku-postgresql:standard-0"].mapping.action == "migrated"
    assert by_plan["heroku-postgresql:standard-0"].attachments == ("DATABASE",)
    assert by_plan["heroku-postgresql:standard-0"].billed_cents == 5000
    shared = by_plan["heroku-postgresql:premium-0"]
    assert shared.shared_from == OTHER and shared.billed_cents is None and "owned by acme-reports" in shared.text()
    assert by_plan["papertrail:fixa"].text().startswith("papertrail:fixa: replaced -> CloudWatch Logs")
    assert by_plan["papertrail:fixa"].config_vars == ("PAPERTRAIL_API_TOKEN",)
    assert by_plan["scheduler:standard"].mapping.counterpart == "EventBridge Scheduler"
    assert by_plan["acme-widgets:basic"].mapping.action == "unknown"
