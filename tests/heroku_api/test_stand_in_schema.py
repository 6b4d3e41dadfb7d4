"""The Heroku stand-in against the published Platform API schema (tests/heroku_api/schema/, source in its README).

Every response the project relies on is validated against the schema's ``targetSchema`` for that link, and
each resource carries exactly the properties the schema declares (no invented field, none left out). Request
bodies the client sends are validated against the links' ``schema``. Lists are paged as Dev Center's "Ranges"
says (https://devcenter.heroku.com/articles/platform-api-reference#ranges): 206 Partial Content and
``Next-Range`` while more remain, ``Range`` to go on, 200 items a page by default and at most 1,000.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws_rehearsal.heroku_api import FakeHeroku

SCHEMA = json.loads((Path(__file__).parent / "schema" / "platform-api.json").read_text())
BASE = "urn:heroku-platform-api"
REGISTRY = Registry().with_resource(BASE, Resource(contents=SCHEMA, specification=DRAFT4))
APP, OTHER = "acme-storefront", "acme-reports"


def link(resource: str, title: str) -> dict[str, Any]:
    return next(item for item in SCHEMA["definitions"][resource]["links"] if item["title"] == title)


def _absolute(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (BASE + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(v) for v in node]
    return node


def validate(instance: Any, schema: dict[str, Any]) -> None:
    validator = Draft4Validator(_absolute(schema), registry=REGISTRY, format_checker=Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def declared(resource: str) -> set[str]:
    return set(SCHEMA["definitions"][resource]["properties"])


def exactly_declared(resource: str, item: dict[str, Any]) -> None:
    assert set(item) == declared(resource), (
        f"{resource}: extra {sorted(set(item) - declared(resource))}, missing {sorted(declared(resource) - set(item))}")


@pytest.fixture
def heroku():
    with FakeHeroku() as fake:
        fake.add_app(APP, config_vars={"RAILS_ENV": "production", "SENDGRID_API_KEY": "SG.x"},
                     formation=[{"type": "web", "quantity": 2, "size": "standard-2x", "command": "bin/web"},
                                {"type": "worker", "quantity": 1, "size": "Performance-M", "command": "bin/worker"}],
                     addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": ["REDIS_URL", "REDIS_TLS_URL"],
                                        "PAPERTRAIL": "PAPERTRAIL_API_TOKEN", "SCHEDULER": []},
                     addon_plans={"DATABASE": "heroku-postgresql:premium-2", "REDIS": "heroku-redis:premium-1",
                                  "PAPERTRAIL": "papertrail:fixa", "SCHEDULER": "scheduler:standard"},
                     domains={"shop.example.com": "sushi-abc123.herokudns.com"}, release_version=42)
        fake.add_app(OTHER, config_vars={})
        fake.attach(APP, "DATABASE", OTHER, "SHARED_DATABASE")
        fake.run_one_off(APP, "bin/rake report", dyno_type="scheduler")
        yield fake


def call(fake: FakeHeroku, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(fake.url + path, data=data, method=method, headers={  # noqa: S310 - the local stand-in
        "Authorization": f"Bearer {fake.token}", "Accept": "application/vnd.heroku+json; version=3",
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local stand-in
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def test_app_info_and_update_answer_the_schema_s_app(heroku):
    for method, body, title in (("GET", None, "Info"), ("PATCH", {"maintenance": True}, "Update")):
        status, _, doc = call(heroku, method, f"/apps/{APP}", body)
        assert status == 200
        validate(doc, link("app", title)["targetSchema"])
        exactly_declared("app", doc)
    assert doc["generation"]["name"] == "cedar"


def test_formation_list_info_and_updates_answer_the_schema_s_formation(heroku):
    status, _, items = call(heroku, "GET", f"/apps/{APP}/formation")
    assert status == 200
    validate(items, link("formation", "List")["targetSchema"])
    for item in items:
        exactly_declared("formation", item)
        assert item["size"] == item["dyno_size"]["name"]  # Heroku's own spelling, in both
    assert {i["type"]: i["dyno_size"]["name"] for i in items} == {"web": "Standard-2X", "worker": "Performance-M"}
    body = {"updates": [{"type": "worker", "quantity": 0, "dyno_size": {"name": "performance-l"}}]}
    validate(body, link("formation", "Batch Update")["schema"])
    status, _, items = call(heroku, "PATCH", f"/apps/{APP}/formation", body)
    assert status == 200
    validate(items, link("formation", "Batch Update")["targetSchema"])
    assert [(i["type"], i["quantity"], i["dyno_size"]["name"]) for i in items] == [("worker", 0, "Performance-L")]
    status, _, item = call(heroku, "PATCH", f"/apps/{APP}/formation/web", {"quantity": 1})
    assert status == 200
    validate(item, link("formation", "Update")["targetSchema"])
    status, _, item = call(heroku, "GET", f"/apps/{APP}/formation/web")
    validate(item, link("formation", "Info")["targetSchema"])
    assert (item["quantity"], item["size"]) == (1, "Standard-2X")


def test_a_formation_update_with_the_deprecated_size_or_an_unknown_size_is_refused_as_the_schema_says(heroku):
    # formation/definitions/update: additionalProperties false; only type, quantity and dyno_size.
    assert call(heroku, "PATCH", f"/apps/{APP}/formation", {"updates": [{"type": "web", "size": "standard-1x"}]}
                )[0] == 422
    assert call(heroku, "PATCH", f"/apps/{APP}/formation/web", {"dyno_size": {"name": "enormous-9x"}})[0] == 422
    assert call(heroku, "GET", f"/apps/{APP}/formation/web")[2]["dyno_size"]["name"] == "Standard-2X"


def test_config_vars_info_and_update_answer_strings_and_refuse_other_values(heroku):
    status, _, doc = call(heroku, "GET", f"/apps/{APP}/config-vars")
    validate(doc, link("config-var", "Info for App")["targetSchema"])
    body = {"LOG_LEVEL": "debug", "RAILS_ENV": None}
    validate(body, link("config-var", "Update")["schema"])
    status, _, doc = call(heroku, "PATCH", f"/apps/{APP}/config-vars", body)
    assert status == 200 and doc["LOG_LEVEL"] == "debug" and "RAILS_ENV" not in doc
    validate(doc, link("config-var", "Update")["targetSchema"])
    for bad in ({"WORKERS": 2}, {"DEBUG": True}, {"BAD-NAME": "x"}):
        assert call(heroku, "PATCH", f"/apps/{APP}/config-vars", bad)[0] == 422, bad


def test_add_on_attachments_and_add_ons_answer_the_schema(heroku):
    status, _, items = call(heroku, "GET", f"/apps/{APP}/addon-attachments")
    assert status == 200
    validate(items, link("add-on-attachment", "List by App")["targetSchema"])
    for item in items:
        exactly_declared("add-on-attachment", item)
    addon = next(i for i in items if i["name"] == "DATABASE")["addon"]["id"]
    status, _, items = call(heroku, "GET", f"/addons/{addon}/addon-attachments")
    validate(items, link("add-on-attachment", "List by Add-on")["targetSchema"])
    assert {i["app"]["name"] for i in items} == {APP, OTHER}
    status, _, items = call(heroku, "GET", f"/apps/{APP}/addons")
    validate(items, link("add-on", "List By App")["targetSchema"])
    for item in items:
        exactly_declared("add-on", item)


def test_dynos_list_and_stop_answer_the_schema(heroku):
    status, _, items = call(heroku, "GET", f"/apps/{APP}/dynos")
    assert status == 200
    validate(items, link("dyno", "List")["targetSchema"])
    for item in items:
        exactly_declared("dyno", item)
    one_off = next(i["name"] for i in items if i["type"] == "scheduler")
    status, _, doc = call(heroku, "POST", f"/apps/{APP}/dynos/{one_off}/actions/stop", {})
    assert status == 202 or status == 200
    validate(doc, link("dyno", "Stop")["targetSchema"])


def test_errors_are_id_and_message(heroku):
    status, _, doc = call(heroku, "GET", "/apps/no-such-app")
    assert status == 404 and {"id", "message"} <= set(doc) and doc["id"] == "not_found"


def test_the_client_s_formation_updates_are_what_the_schema_accepts(heroku, monkeypatch):
    sent: list[tuple[str, str, Any]] = []
    client = HerokuClient(heroku.token, heroku.url, retries=0)
    original = client._call

    def spy(method, path, body=None, extra_headers=None):
        sent.append((method, path, body))
        return original(method, path, body, extra_headers)

    monkeypatch.setattr(client, "_call", spy)
    client.update_formation(APP, [{"type": "web", "quantity": 0, "size": "standard-1x"}, {"type": "worker"}])
    client.scale(APP, "worker", quantity=2, size="Performance-L")
    client.update_config_vars(APP, {"LOG_LEVEL": "warn", "OLD": None})
    validate(sent[0][2], link("formation", "Batch Update")["schema"])
    validate(sent[1][2], link("formation", "Update")["schema"])
    validate(sent[2][2], link("config-var", "Update")["schema"])
    assert {i["type"]: (i["quantity"], i["dyno_size"]["name"]) for i in client.get_formation(APP)} == {
        "web": (0, "Standard-1X"), "worker": (2, "Performance-L")}


# ------------------------------------------------------------------ paging


@pytest.fixture
def big_app():
    with FakeHeroku() as fake:
        fake.add_app(APP, formation=[{"type": f"worker{n:02d}", "quantity": 1, "size": "basic", "command": "x"}
                                     for n in range(7)])
        for _ in range(5):
            fake.run_one_off(APP, "bin/job", dyno_type="run")
        yield fake


def test_a_list_longer_than_a_page_answers_206_with_next_range_until_the_last_page(big_app):
    seen: list[str] = []
    status, headers, items = call(big_app, "GET", f"/apps/{APP}/formation", headers={"Range": "id ..; max=3"})
    pages = [status]
    seen += [i["id"] for i in items]
    while status == 206:
        assert len(items) == 3 and headers.get("Next-Range")
        status, headers, items = call(big_app, "GET", f"/apps/{APP}/formation", headers={"Range": headers["Next-Range"]})
        pages.append(status)
        seen += [i["id"] for i in items]
    assert pages == [206, 206, 200]
    assert len(seen) == len(set(seen)) == 7 and seen == sorted(seen)  # every item once, in id order


def test_without_a_range_the_default_page_is_200_items_and_max_is_capped_at_1000():
    with FakeHeroku() as fake:
        fake.add_app(APP, formation=[{"type": f"p{n:03d}", "quantity": 0, "size": "eco", "command": "x"}
                                     for n in range(203)])
        status, headers, items = call(fake, "GET", f"/apps/{APP}/formation")
        assert (status, len(items)) == (206, 200) and "Next-Range" in headers
        status, headers, items = call(fake, "GET", f"/apps/{APP}/formation", headers={"Range": "id ..; max=5000"})
        assert (status, len(items)) == (200, 203) and "Next-Range" not in headers


def test_the_client_reads_every_page_of_every_list_it_uses(big_app):
    client = HerokuClient(big_app.token, big_app.url, retries=0)
    big_app.page_size = 2
    assert len(client.get_formation(APP)) == 7
    assert len(client.dynos(APP)) == 12  # 7 formation dynos + 5 one-off
    requests = [r for r in big_app.requests if r["path"] == f"/apps/{APP}/formation"]
    assert [r["status"] for r in requests] == [206, 206, 206, 200]


# ------------------------------------------------------------------ what `heroku2aws init` reads


def test_add_ons_answer_their_plans_and_services(heroku):
    _, _, items = call(heroku, "GET", f"/apps/{APP}/addons")
    mine = {i["plan"]["name"] for i in items if i["app"]["name"] == APP}
    assert mine == {"heroku-postgresql:premium-2", "heroku-redis:premium-1", "papertrail:fixa", "scheduler:standard"}
    for item in items:
        assert item["plan"]["name"].split(":")[0] == item["addon_service"]["name"]
    scheduler = next(i for i in items if i["addon_service"]["name"] == "scheduler")
    assert scheduler["config_vars"] == []


def test_domains_list_and_info_answer_the_schema(heroku):
    status, _, items = call(heroku, "GET", f"/apps/{APP}/domains")
    assert status == 200
    validate(items, link("domain", "List")["targetSchema"])
    for item in items:
        exactly_declared("domain", item)
    assert {(i["kind"], i["cname"]) for i in items if i["hostname"] == "shop.example.com"} == {
        ("custom", "sushi-abc123.herokudns.com")}
    assert [i["kind"] for i in items].count("heroku") == 1
    status, _, item = call(heroku, "GET", f"/apps/{APP}/domains/shop.example.com")
    validate(item, link("domain", "Info")["targetSchema"])
    assert call(heroku, "GET", f"/apps/{APP}/domains/nope.example.com")[0] == 404


def test_releases_and_the_current_slug_answer_the_schema(heroku):
    status, _, items = call(heroku, "GET", f"/apps/{APP}/releases")
    assert status == 200
    validate(items, link("release", "List")["targetSchema"])
    for item in items:
        exactly_declared("release", item)
    current = next(i for i in items if i["current"])
    assert current["version"] == 42 and "heroku-postgresql:premium-2" in current["addon_plan_names"]
    status, _, same = call(heroku, "GET", f"/apps/{APP}/releases/42")
    validate(same, link("release", "Info")["targetSchema"])
    assert same["id"] == current["id"]
    status, _, slug = call(heroku, "GET", f"/apps/{APP}/slugs/{current['slug']['id']}")
    assert status == 200
    validate(slug, link("slug", "Info")["targetSchema"])
    exactly_declared("slug", slug)
    assert slug["process_types"] == {"web": "bin/web", "worker": "bin/worker"}
    assert call(heroku, "GET", f"/apps/{APP}/slugs/00000000-0000-0000-0000-000000000000")[0] == 404


def test_the_slug_blob_is_a_signed_url_without_the_token(heroku):
    _, _, items = call(heroku, "GET", f"/apps/{APP}/releases")
    _, _, slug = call(heroku, "GET", f"/apps/{APP}/slugs/{items[0]['slug']['id']}")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(slug["blob"]["url"], timeout=10)  # noqa: S310 - the local stand-in
    assert missing.value.code == 404
    heroku.set_slug_blob(APP, b"\x1f\x8b fake tgz")
    with urllib.request.urlopen(slug["blob"]["url"], timeout=10) as answer:  # noqa: S310 - the local stand-in
        assert answer.read() == b"\x1f\x8b fake tgz"
    _, _, slug = call(heroku, "GET", f"/apps/{APP}/slugs/{items[0]['slug']['id']}")
    assert slug["size"] == len(b"\x1f\x8b fake tgz") and slug["checksum"].startswith("SHA256:")
