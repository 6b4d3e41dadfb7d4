"""The build stage, rehearsed with real bytes: the sample app's slug (served by the Heroku stand-in with its SHA256)
becomes the image the ECS services run from, a checksum mismatch fails the build and rolls back, a rollback deletes
the image tag the build pushed, and an image given in the input skips the build."""

from __future__ import annotations

import json
from pathlib import Path

from workflow_helpers import assert_rolled_back, heroku_app

from heroku2aws_rehearsal.patches import local
from heroku2aws_rehearsal.sample_app.slug_archive import slug_archive
from heroku2aws_rehearsal.world import APP, RELEASE_VERSION

BUILD = "Build the image from the Heroku release"
REPO = f"heroku2aws/{APP}"
TAG = f"v{RELEASE_VERSION}"


def _tags(world) -> list[str]:
    images = world.aws.client("ecr").describe_images(repositoryName=REPO)["imageDetails"]
    return sorted(t for i in images for t in i.get("imageTags", []))


def _log(name: str) -> str:
    return "".join(p.read_text(errors="replace") for p in Path(local.LOG_DIR).glob(name))


def _names(report) -> list[str]:
    return [s["name"] for s in report["states"]]


def test_the_image_is_built_from_the_slug_and_the_services_run_from_it(world, rehearse):
    report = rehearse()

    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert BUILD in _names(report)
    assert _tags(world) == [TAG]
    root = local.IMAGE_ROOTS / REPO / TAG
    web = [json.loads(line) for line in _log("ecs-sample-app-web*.log").splitlines()
           if line.startswith("{") and '"listening"' in line]
    # The web process ran from the unpacked slug, through the image's entrypoint, its .profile.d sourced (the web
    # refuses to start without it).
    assert web and all(w["profile_d"] == "sourced" for w in web)
    assert all(Path(w["code"]).is_relative_to(root / "app") for w in web), [w["code"] for w in web]


def test_a_slug_whose_checksum_does_not_match_fails_the_build_and_rolls_back(world, rehearse):
    before = heroku_app(world)
    world.heroku.set_slug_blob(APP, slug_archive(), checksum="SHA256:" + "0" * 64)
    try:
        report = rehearse()
    finally:
        world.heroku.set_slug_blob(APP, slug_archive())

    assert_rolled_back(world, report, before)
    cause = json.loads(report["cause"])
    assert cause["State"] == BUILD and cause["Error"] == "States.TaskFailed"
    assert json.loads(cause["Cause"])["BuildStatus"] == "FAILED"
    assert f"not the published SHA256:{'0' * 64}; refusing to build" in _log("codebuild-*.log")
    assert _tags(world) == []
    assert "Create the ECS services" not in _names(report)


def test_a_rollback_deletes_the_image_tag_the_build_pushed(world, rehearse):
    before = heroku_app(world)

    report = rehearse(fail_at=["Plan the ECS services"])

    assert_rolled_back(world, report, before)
    assert BUILD in _names(report)
    assert _tags(world) == []  # pushed by the build, deleted by the app-image compensation


def test_an_image_given_in_the_input_skips_the_build(world, rehearse):
    before = heroku_app(world)
    given = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app:given"

    report = rehearse(overrides={"ecs.image": given}, fail_at=["Plan the ECS services"])

    assert_rolled_back(world, report, before)
    names = _names(report)
    assert "Is an image given?" in names and BUILD not in names
    assert _tags(world) == []
    assert "Plan the ECS services" in names


def test_a_container_stack_app_is_refused_by_the_build_naming_the_image_input(world, rehearse):
    before = heroku_app(world)
    app = world.heroku._apps[APP]
    app.stack = "container"  # heroku.yml / heroku container:release: the release has no slug
    try:
        report = rehearse()
    finally:
        app.stack = "heroku-24"

    assert_rolled_back(world, report, before)
    assert json.loads(report["cause"])["State"] == BUILD
    log = _log("codebuild-*.log")
    assert "container image (container stack" in log and '"image" in the execution input' in log
    assert _tags(world) == []
