"""What becomes of each Heroku add-on on AWS: migrated, kept, or replaced (and by what).

- migrated: heroku2aws copies its data (Heroku Postgres -> RDS, Heroku Key-Value Store -> ElastiCache).
- kept: a SaaS add-on reachable from anywhere; its config vars travel with the app's other config vars (the
  workflow imports every config var into the app's secret), so the app on AWS keeps using it. It stays billed
  through Heroku while the Heroku app has it: move it to the provider's own account before deleting the app.
- replaced: it only works on Heroku (it reads the Heroku router's logs, runs dynos, lives on Heroku's network)
  or AWS has the same thing natively; the line names the counterpart. heroku2aws does the replacement itself
  only where it says so (Scheduler jobs: ``scheduler.jobs`` in the execution input become EventBridge Scheduler
  schedules running the app's task definition); the others are the team's to do, the plan says what.
- unknown: an add-on this table does not know: kept (its config vars travel), with a note to check it.

The service names are the Heroku Elements slugs (the ``addon_service.name`` the Platform API answers, the part of
a plan name before the colon), e.g. https://elements.heroku.com/addons/papertrail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ADDONS", "AddonLine", "AddonMapping", "addon_lines", "mapping_for"]

Action = Literal["migrated", "kept", "replaced", "unknown"]


@dataclass(frozen=True)
class AddonMapping:
    action: Action
    counterpart: str
    note: str = ""


_LOGS = AddonMapping("replaced", "CloudWatch Logs",
                     "the ECS tasks log to CloudWatch Logs (awslogs); a log drain add-on sees only Heroku's router and "
                     "dynos, so it goes quiet after the switch (ship to it with FireLens if you want to keep it)")
_KEPT = AddonMapping("kept", "the same SaaS", "its config vars travel with the app")
_S3 = AddonMapping("replaced", "Amazon S3",
                   "the add-on's bucket keeps working with its config vars; to own the data, copy it to your bucket "
                   "(aws s3 sync) and change the app's config")
_EGRESS = AddonMapping("replaced", "the landing's NAT gateway Elastic IPs",
                       "a fixed outbound IP: the private subnets leave through NAT gateways with Elastic IPs; give "
                       "those IPs to whoever allow-lists the app")
_AUTOSCALE = AddonMapping("replaced", "ECS Service Auto Scaling", "target tracking on CPU or ALB requests per target")

ADDONS: dict[str, AddonMapping] = {
    "heroku-postgresql": AddonMapping("migrated", "Amazon RDS for PostgreSQL",
                                      "the landing's RDS instance; the workflow copies the data in the write freeze"),
    "heroku-redis": AddonMapping("migrated", "Amazon ElastiCache",
                                 "the landing's replication group; the workflow copies every key in the write freeze"),
    "scheduler": AddonMapping("replaced", "EventBridge Scheduler",
                              "Heroku Scheduler has no API: list its jobs in scheduler.jobs (name, command, cron/rate) "
                              "and the workflow creates one schedule each, running the app's task definition, enabled "
                              "at the switch and deleted by rollback"),
    "papertrail": _LOGS, "logdna": _LOGS, "mezmo": _LOGS, "logentries": _LOGS, "loggly": _LOGS, "sumologic": _LOGS,
    "coralogix": _LOGS, "solarwinds-logs": _LOGS, "timber-logging": _LOGS, "logtail": _LOGS, "better-stack": _LOGS,
    "bucketeer": _S3, "cloudcube": _S3,
    "heroku-kafka": AddonMapping("replaced", "Amazon MSK",
                                 "Apache Kafka on Heroku is reachable only from Heroku: create an MSK cluster and "
                                 "mirror the topics (MirrorMaker 2) before the switch; heroku2aws does not copy Kafka"),
    "heroku-connect": AddonMapping("replaced", "Amazon AppFlow (Salesforce)",
                                   "Heroku Connect syncs Salesforce only into Heroku Postgres: after the switch it "
                                   "writes to the old database; rebuild the sync against RDS"),
    "quotaguardstatic": _EGRESS, "quotaguard": _EGRESS, "fixie": _EGRESS, "fixie-socks": _EGRESS,
    "proximo": _EGRESS,
    "rails-autoscale": _AUTOSCALE, "judoscale": _AUTOSCALE, "adept-scale": _AUTOSCALE, "hirefire": _AUTOSCALE,
    "deployhooks": AddonMapping("replaced", "the deploy pipeline's notifications",
                                "Heroku deploy hooks fire on Heroku releases only"),
    "heroku-inference": AddonMapping("replaced", "Amazon Bedrock",
                                     "Heroku's managed inference runs on Heroku; its keys stop with the app"),
    "memcachier": AddonMapping("kept", "the same SaaS (or ElastiCache for Memcached)",
                               "its config vars travel; the cache is not copied (it is a cache)"),
    **{name: _KEPT for name in (
        "sendgrid", "mailgun", "postmark", "mailtrap", "sparkpost", "newrelic", "sentry", "rollbar", "honeybadger",
        "bugsnag", "raygun", "scout", "appsignal", "skylight", "librato", "datadog", "blackfire", "atatus",
        "cloudamqp", "rediscloud", "redisgreen", "mongolab", "ormongo", "jawsdb", "jawsdb-maria", "cleardb",
        "elephantsql", "bonsai", "searchbox", "foundelasticsearch", "algoliasearch", "pusher", "ably", "twilio",
        "cloudinary", "imagekit", "mailchimp", "stripe", "auth0", "pgbackups", "heroku-postgresql-backups",
        "expeditedssl", "heroku-ssl", "dnsimple", "pointdns", "zerigo_dns", "ssl", "cloudflare", "keen",
        "launchdarkly", "split", "optimizely", "statuspage", "pingdom", "uptimerobot", "cronitor", "deadmanssnitch",
        "inspector", "airbrake", "kafka-reaper", "cloudmqtt", "iron_mq", "iron_worker", "lightning-css",
    )},
}


def mapping_for(service: str) -> AddonMapping:
    """The table's line for an add-on service (``unknown`` when the table does not know it)."""
    return ADDONS.get(service.lower(), AddonMapping(
        "unknown", "kept as it is", "heroku2aws does not know this add-on: its config vars travel with the app; check "
                                    "that it works from outside Heroku (some are reachable only from dynos)"))


@dataclass(frozen=True)
class AddonLine:
    """One add-on of the app as the plan shows it."""

    service: str
    plan: str                   # "heroku-postgresql:standard-0"
    name: str                   # the add-on's own name ("postgresql-curly-12345")
    attachments: tuple[str, ...]  # the attachment names on this app ("DATABASE")
    config_vars: tuple[str, ...]  # the var NAMES it sets
    shared_from: str | None     # the owning app when another app owns it
    mapping: AddonMapping
    billed_cents: int | None    # what Heroku bills a month for it (the API's billed_price), None when unknown

    def text(self) -> str:
        owner = f" (owned by {self.shared_from})" if self.shared_from else ""
        head = f"{self.plan}{owner}: {self.mapping.action}"
        if self.mapping.action in ("migrated", "replaced"):
            head += f" -> {self.mapping.counterpart}"
        return head + (f" ({self.mapping.note})" if self.mapping.note else "")


def addon_lines(app: str, addons: list[dict[str, Any]], attachments: list[dict[str, Any]]) -> list[AddonLine]:
    """The plan's add-on lines from the Platform API's "add-on List By App" and "add-on-attachment List by App"
    answers (schema: ``addon_service.name``, ``plan.name``, ``config_vars``, ``billed_price``; attachments
    ``addon.id`` and ``name``), sorted by service then name."""
    names_by_addon: dict[str, list[str]] = {}
    for a in attachments:
        addon_id = (a.get("addon") or {}).get("id")
        if addon_id and a.get("name"):
            names_by_addon.setdefault(addon_id, []).append(str(a["name"]))
    lines = []
    for addon in addons:
        service = str((addon.get("addon_service") or {}).get("name") or "")
        plan = str((addon.get("plan") or {}).get("name") or service)
        service = service or plan.split(":", 1)[0]
        owner = (addon.get("app") or {}).get("name")
        billed = addon.get("billed_price") or None
        cents = billed.get("cents") if isinstance(billed, dict) and isinstance(billed.get("cents"), int) else None
        if owner and owner != app:
            cents = None   # billed to the app that owns it
        lines.append(AddonLine(service=service, plan=plan, name=str(addon.get("name") or ""),
                               attachments=tuple(sorted(names_by_addon.get(str(addon.get("id")), []))),
                               config_vars=tuple(v for v in addon.get("config_vars") or [] if isinstance(v, str)),
                               shared_from=owner if owner and owner != app else None,
                               mapping=mapping_for(service), billed_cents=cents))
    return sorted(lines, key=lambda line: (line.service, line.name))
