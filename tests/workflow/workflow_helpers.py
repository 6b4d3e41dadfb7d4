"""Assertions shared by the workflow tests."""

from __future__ import annotations

from heroku2aws_rehearsal.world import APP


def heroku_app(world) -> dict:
    from heroku2aws.clients.heroku import HerokuClient

    client = HerokuClient(world.heroku_token, base_url=world.heroku.url)
    return {"maintenance": client.get_app(APP)["maintenance"],
            "formation": sorted((f["type"], f["quantity"], f["size"]) for f in client.get_formation(APP))}


def assert_rolled_back(world, report: dict, heroku_before: dict, error: str = "MigrationRolledBack") -> None:
    assert report["status"] == "FAILED", report
    assert report["error"] == error, report
    assert report["traffic"] == {"aws": 0, "heroku": 100}, report["traffic"]
    assert report["leftovers"] == [], report["leftovers"]
    assert report["source_intact"] is True
    assert heroku_app(world) == heroku_before, (heroku_app(world), heroku_before)
