"""Preflight finds every other app attached to the source data stores (issue 14, 3) and refuses with the reason:
the freeze stops only this app's dynos, so another app would keep writing while the data is copied."""

from __future__ import annotations

from helpers import APP

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws.steps.preflight import Findings, apps_sharing_the_stores
from heroku2aws_rehearsal.heroku_api import FakeHeroku

TOKEN = "HRKU-shared-0123456789abcdef0123456789abcdef"
ATTACHMENTS = {"DATABASE": ["DATABASE_URL", "HEROKU_POSTGRESQL_COBALT_URL"], "REDIS": ["REDIS_URL", "REDIS_TLS_URL"],
               "SENDGRID": ["SENDGRID_API_KEY"]}


def test_given_no_other_app_when_inspected_then_nothing_is_shared():
    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, addon_attachments=ATTACHMENTS)
        assert apps_sharing_the_stores(HerokuClient(TOKEN, fake.url), APP) == {}


def test_given_the_database_attached_to_another_app_when_inspected_then_that_app_is_named():
    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, addon_attachments=ATTACHMENTS)
        fake.add_app("acme-admin")
        fake.add_app("acme-reports")
        fake.attach(APP, "DATABASE", "acme-admin", "DATABASE")
        fake.attach(APP, "DATABASE", "acme-reports", "HEROKU_POSTGRESQL_COBALT")
        fake.attach(APP, "SENDGRID", "acme-reports", "SENDGRID")  # not a data store: no concern
        api = HerokuClient(TOKEN, fake.url)

        shared = apps_sharing_the_stores(api, APP)

        assert len(shared) == 1
        (store, others), = shared.items()
        assert store.startswith("DATABASE (heroku-postgresql-")
        assert others == ["acme-admin as DATABASE", "acme-reports as HEROKU_POSTGRESQL_COBALT"]
        # the other app sees the add-on it shares, owned by the app being migrated (as the real API lists it)
        addons = api.addons("acme-admin")
        assert [a["app"]["name"] for a in addons] == [APP]


def test_given_a_shared_redis_when_preflight_inspects_heroku_then_it_refuses_naming_the_app(cfg):
    from heroku2aws.contracts.input import ExecutionInput
    from heroku2aws.steps.preflight import inspect_heroku

    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, config_vars={"DATABASE_URL": "postgres://u:p@h/d", "REDIS_URL": "rediss://:p@h:1"},
                     formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "puma"}],
                     addon_attachments=ATTACHMENTS)
        fake.add_app("acme-worker")
        fake.attach(APP, "REDIS", "acme-worker", "REDIS")
        findings = Findings()
        model = ExecutionInput.model_validate({**cfg, "heroku": {**cfg["heroku"], "api_url": fake.url}})

        inspect_heroku(model, HerokuClient(TOKEN, fake.url), findings)

        assert any("REDIS (heroku-redis-" in p and "acme-worker as REDIS" in p for p in findings.problems), \
            findings.problems
