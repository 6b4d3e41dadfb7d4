"""The build stage's script against the Heroku stand-in serving the sample app's real slug, and moto's ECR.

Each test builds with the ``local-root`` builder (no Docker here): fetch, verify, unpack into the image's root
with its entrypoint, record the image in ECR; then runs what the image would run from that root.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws.image import slug_image
from heroku2aws.image.slug_image import BuildRefused, SlugChecksumMismatch
from heroku2aws_rehearsal.heroku_api import FakeHeroku
from heroku2aws_rehearsal.sample_app import CONFIG_VARS, PROCESS_TYPES
from heroku2aws_rehearsal.sample_app.slug_archive import slug_archive

APP = "sample-app"
REPO = "heroku2aws/sample-app"


@pytest.fixture(name="heroku")
def heroku_with_slug():
    with FakeHeroku() as fake:
        fake.add_app(APP, dict(CONFIG_VARS), formation=[
            {"type": t, "quantity": 1, "size": "standard-1X", "command": f"python -m heroku2aws_rehearsal.sample_app.{t}"}
            for t in PROCESS_TYPES], release_version=7)
        fake.set_slug_blob(APP, slug_archive())
        yield fake


@pytest.fixture(name="ecr")
def ecr_repo(moto):
    ecr = boto3.client("ecr")
    uri = ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"]
    return ecr, uri


def _build(heroku: FakeHeroku, ecr, tmp_path: Path, app: str = APP) -> dict[str, str]:
    client, uri = ecr
    return slug_image.build(HerokuClient(heroku.token, heroku.url), client, app, uri, builder="local-root",
                            roots=tmp_path / "images")


def _tags(ecr) -> list[str]:
    return sorted(t for d in ecr[0].describe_images(repositoryName=REPO)["imageDetails"] for t in d.get("imageTags", []))


def _run_in_image(root: Path, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` as the image's entrypoint runs it (its /app being ``root/app``)."""
    full = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HEROKU2AWS_APP_DIR": str(root / "app"),
            **(env or {})}
    return subprocess.run([str(root / "heroku2aws-process"), command], env=full, cwd=root,
                          capture_output=True, text=True, timeout=60)


def test_given_the_current_release_when_built_then_its_slug_is_the_image_root_tagged_with_the_release(heroku, ecr,
                                                                                                      tmp_path):
    out = _build(heroku, ecr, tmp_path)

    assert out == {"IMAGE_URI": f"{ecr[1]}:v7", "IMAGE_TAG": "v7", "RELEASE_VERSION": "7", "PUSHED": "true"}
    assert _tags(ecr) == ["v7"]
    root = tmp_path / "images" / REPO / "v7"
    assert (root / "app" / "Procfile").is_file()
    assert (root / "app" / ".profile.d" / "sample.sh").is_file()
    dockerfile = (root / "Dockerfile").read_text()
    assert "FROM heroku/heroku:24\n" in dockerfile and "COPY app/ /app/" in dockerfile
    assert 'ENTRYPOINT ["/usr/local/bin/heroku2aws-process"]' in dockerfile
    assert 'CMD ["python -m heroku2aws_rehearsal.sample_app.web"]' in dockerfile
    # The manifest's layer is the slug the stand-in served, byte for byte.
    digest = hashlib.sha256(slug_archive()).hexdigest()
    image = ecr[0].batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "v7"}])["images"][0]
    assert f"sha256:{digest}" in image["imageManifest"]


def test_given_a_slug_whose_profile_d_sets_what_the_web_needs_when_run_through_the_entrypoint_then_it_is_set(
        heroku, ecr, tmp_path):
    _build(heroku, ecr, tmp_path)
    root = tmp_path / "images" / REPO / "v7"

    ran = _run_in_image(root, 'echo "$SAMPLE_APP_PROFILE_D $HOME $PWD"; '
                              'python -c "import heroku2aws_rehearsal.sample_app.web as w; print(w.__file__)"')

    assert ran.returncode == 0, ran.stderr
    first, second = ran.stdout.splitlines()
    assert first == f"sourced {root / 'app'} {root / 'app'}"
    assert second == str(root / "app" / "heroku2aws_rehearsal" / "sample_app" / "web.py")  # the slug's code


def test_given_the_slug_web_when_started_without_its_profile_d_then_it_refuses_to_start(heroku, ecr, tmp_path):
    _build(heroku, ecr, tmp_path)
    app_dir = tmp_path / "images" / REPO / "v7" / "app"

    ran = subprocess.run([sys.executable, "-m", "heroku2aws_rehearsal.sample_app.web"], cwd=app_dir,
                         env={"PATH": os.environ["PATH"], "PORT": "0"}, capture_output=True, text=True, timeout=60)

    assert ran.returncode == 3
    assert ".profile.d was not sourced" in ran.stdout


def test_given_a_checksum_that_does_not_match_when_built_then_refused_and_nothing_pushed_or_unpacked(heroku, ecr,
                                                                                                    tmp_path):
    heroku.set_slug_blob(APP, slug_archive(), checksum="SHA256:" + "0" * 64)

    with pytest.raises(SlugChecksumMismatch) as refused:
        _build(heroku, ecr, tmp_path)

    assert f"not the published SHA256:{'0' * 64}" in str(refused.value)
    assert "slug-blobs" not in str(refused.value)  # the signed URL is never in an error
    assert _tags(ecr) == []
    assert not (tmp_path / "images").exists()


def test_given_a_container_stack_release_when_built_then_refused_naming_the_image_input(heroku, ecr, tmp_path):
    heroku.add_app("docker-app", {}, formation=[{"type": "web", "quantity": 1, "command": "bin/web"}],
                   stack="container")

    with pytest.raises(BuildRefused) as refused:
        _build(heroku, ecr, tmp_path, app="docker-app")

    message = str(refused.value)
    assert "container image (container stack" in message and '"image" in the execution input' in message
    assert _tags(ecr) == []


def test_given_a_fir_release_when_built_then_refused_naming_its_oci_image(heroku, ecr, tmp_path):
    heroku.add_app("fir-app", {}, formation=[{"type": "web", "quantity": 1, "command": "bin/web"}], generation="fir")

    with pytest.raises(BuildRefused, match="Cloud Native Buildpacks image"):
        _build(heroku, ecr, tmp_path, app="fir-app")


def test_given_the_release_already_in_ecr_when_built_again_then_nothing_is_pushed(heroku, ecr, tmp_path):
    _build(heroku, ecr, tmp_path)
    blobs = [r for r in heroku.requests if r["path"].startswith("/slug-blobs/")]

    again = _build(heroku, ecr, tmp_path)

    assert again["PUSHED"] == "false" and again["IMAGE_TAG"] == "v7"
    assert [r for r in heroku.requests if r["path"].startswith("/slug-blobs/")] == blobs  # not downloaded again
    assert _tags(ecr) == ["v7"]


def test_given_an_ecs_command_vector_when_the_entrypoint_gets_it_then_it_runs_as_given_through_plan_services_wrapper(
        heroku, ecr, tmp_path):
    from heroku2aws.steps.plan_services import container_command

    _build(heroku, ecr, tmp_path)
    root = tmp_path / "images" / REPO / "v7"
    full = {"PATH": os.environ["PATH"], "HEROKU2AWS_APP_DIR": str(root / "app")}

    # What Docker runs for an ECS task on this image: ENTRYPOINT + the task definition's Command.
    ran = subprocess.run([str(root / "heroku2aws-process"),
                          *container_command('echo "$SAMPLE_APP_PROFILE_D $0"', "worker")],
                         env=full, cwd=root, capture_output=True, text=True, timeout=60)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "sourced worker"  # sourced once, the process type from the vector


def test_a_large_slug_is_streamed_to_disk_while_hashed_not_held_in_memory(heroku, tmp_path):
    import tracemalloc

    blob = os.urandom(96 << 20)  # 96 MiB: the download must not hold it (nor a copy) in memory
    heroku.set_slug_blob(APP, blob)
    release = slug_image.release_of(HerokuClient(heroku.token, heroku.url), APP)
    tracemalloc.start()
    try:
        size = slug_image.download_slug(release, tmp_path / "slug.tgz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == len(blob) and (tmp_path / "slug.tgz").stat().st_size == len(blob)
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MiB while downloading a 96 MiB slug"
