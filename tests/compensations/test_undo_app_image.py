"""``app-image``: the tags the build stage pushed are deleted, once; other tags stay; a missing tag or repository is
"already gone" (moto's ECR)."""

from __future__ import annotations

import json

import boto3
from helpers import APP, run_compensation

REPO = f"heroku2aws/{APP}"


def push(tag: str) -> None:
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                           "digest": "sha256:" + tag.encode().hex().ljust(64, "0")[:64]}, "layers": []}
    boto3.client("ecr").put_image(repositoryName=REPO, imageManifest=json.dumps(manifest), imageTag=tag)


def tags() -> list[str]:
    images = boto3.client("ecr").describe_images(repositoryName=REPO)["imageDetails"]
    return sorted(t for i in images for t in i.get("imageTags", []))


def test_the_pushed_tag_is_deleted_once_and_the_others_stay(cfg, moto):
    boto3.client("ecr").create_repository(repositoryName=REPO)
    push("v41")
    push("v42")
    entry = {"kind": "app-image", "app": APP, "repository": REPO, "tags": ["v42"]}

    first = run_compensation("app-image", entry, cfg)
    second = run_compensation("app-image", entry, cfg)

    assert tags() == ["v41"]
    assert any("v42" in action for action in first.actions)
    assert second.actions == [] and second.pending == []


def test_a_missing_repository_or_an_entry_without_tags_changes_nothing(cfg, moto):
    gone = run_compensation("app-image", {"kind": "app-image", "app": APP, "repository": REPO, "tags": ["v1"]}, cfg)
    empty = run_compensation("app-image", {"kind": "app-image", "app": APP, "repository": REPO}, cfg)

    assert gone.actions == [] and empty.actions == []
