"""Build the app's image from the release Heroku is running: ``python -m heroku2aws.image.slug_image``.

Run by the stack's CodeBuild project (the workflow's "Build the image from the Heroku release" state, started with
``codebuild:startBuild.sync``); the rehearsal's CodeBuild runs the same module with ``--builder local-root``.

1. The Heroku API key is read from Secrets Manager here, inside the build (``HEROKU2AWS_API_KEY_SECRET_ARN``);
   it never travels in the workflow's state, a log line or an error.
2. The current release: ``GET /apps/{app}/releases`` (every page), the one with ``current: true`` and
   ``status: succeeded`` (else the succeeded one with the highest version).
3. Its slug: ``GET /apps/{app}/slugs/{slug}`` (Platform API schema, ``slug``): ``blob.url`` (a signed URL: never
   logged), ``checksum`` (``SHA256:<hex>``), ``process_types``, ``stack.name``.
4. The tarball is streamed to disk in 1 MiB chunks while it is hashed (a slug may be up to 500 MB compressed:
   Dev Center "Slug Compiler", size limits); a digest other than the published checksum refuses the build
   (:class:`SlugChecksumMismatch`) before anything is unpacked or pushed. A slug without a checksum is refused too.
5. The slug (a ``.tgz`` of ``./app``, Dev Center "Platform API: Creating Slugs from Scratch") is unpacked
   member by member with tarfile's ``data`` filter (no absolute paths, no ``..``, no devices, no links out).
6. The image: ``FROM heroku/heroku:<N>`` for stack ``heroku-<N>`` (Heroku's published runtime image of the stack,
   not the ``-build`` one), the slug at ``/app``, ``HOME=/app``, and ``/usr/local/bin/heroku2aws-process`` — the
   same wrapper the ECS task definitions run (:data:`heroku2aws.steps.plan_services.PROCESS_WRAPPER`: the login
   sequence of a dyno, ``.profile.d/*.sh`` sourced, the command under ``bash -c``, SIGTERM forwarded to the whole
   process group) — as the entrypoint (:func:`entrypoint_script`); the default command is the ``web`` process
   type's. A task definition's ``Command`` (plan_services' own vector: that same wrapper, inline) is executed as
   given, so the ECS services run unchanged on this image.
7. Pushed to the app's ECR repository (``HEROKU2AWS_IMAGE_REPOSITORY_URI``) tagged with the release version
   (``v<N>``). Safe to run twice: a tag already in the repository is not rebuilt (``PUSHED=false``); ECR tags are
   immutable there, so ``v<N>`` always names what release N ran.

Releases without a slug are refused with what the user must give instead (the execution input's ``image``):
container-stack apps (``heroku.yml`` / ``heroku container:release``) and Fir (Cloud Native Buildpacks) apps run an
image, and the Platform API schema exposes no pullable reference to it: a container release has ``slug: null``
and no artifact naming an image; a Fir release's ``oci-image`` artifact gives ``image_repo`` and ``digest`` but no
registry host and no pull credential.

Output: ``--env-file`` (default ``build.env``) gets ``export IMAGE_URI=… IMAGE_TAG=… RELEASE_VERSION=… PUSHED=…``,
which the buildspec sources so CodeBuild exports them (``env.exported-variables``) and ``startBuild.sync``'s
result carries them to the workflow.

Builders: ``docker`` (CodeBuild, privileged): ``docker login`` with ECR's authorization token, ``docker build
--platform linux/amd64`` (no ``RUN`` step, so any build host can make it), ``docker push``. ``local-root`` (the
rehearsal, no Docker): the build context *is* the image's root, kept under ``HEROKU2AWS_IMAGE_ROOTS``, and the
image is recorded in ECR with ``PutImage`` (its manifest's layer digest is the slug's SHA256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["BuildRefused", "Release", "SlugChecksumMismatch", "base_image", "build", "current_release",
           "dockerfile", "download_slug", "main", "release_of", "unpack_slug"]

CHUNK = 1 << 20
ENTRYPOINT_PATH = "/usr/local/bin/heroku2aws-process"
#: Stacks whose runtime image Heroku publishes as ``heroku/heroku:<N>`` (Dev Center "Stacks").
SUPPORTED_STACKS = {"heroku-20": "20", "heroku-22": "22", "heroku-24": "24"}


class BuildRefused(Exception):
    """The release cannot be built into an image; the message says why and what to give instead."""


class SlugChecksumMismatch(BuildRefused):
    """The downloaded slug's SHA256 is not the checksum Heroku published for it."""


@dataclass(frozen=True)
class Release:
    app: str
    version: int
    slug_id: str
    blob_url: str
    checksum: str          # hex SHA256
    stack: str
    process_types: dict[str, str]

    @property
    def tag(self) -> str:
        return f"v{self.version}"


# ------------------------------------------------------------------------------ Heroku


def current_release(client: Any, app: str) -> dict[str, Any]:
    """The release Heroku is running: ``current`` and ``succeeded``, else the newest succeeded one."""
    releases = client._list(f"/apps/{app}/releases")
    succeeded = [r for r in releases if r.get("status") == "succeeded"]
    current = [r for r in succeeded if r.get("current")]
    chosen = max(current or succeeded, key=lambda r: int(r.get("version") or 0), default=None)
    if chosen is None:
        raise BuildRefused(f"app {app} has no succeeded release to build an image from")
    return chosen


def release_of(client: Any, app: str) -> Release:
    """The current release's slug, as the Platform API describes it (refused when it runs no slug)."""
    release = current_release(client, app)
    version = int(release["version"])
    slug_ref = release.get("slug") or {}
    if not slug_ref.get("id"):
        kinds = sorted({str(a.get("type")) for a in release.get("artifacts") or []})
        what = ("a Cloud Native Buildpacks image (oci-image artifact)" if "oci-image" in kinds
                else "a container image (container stack, heroku.yml or heroku container:release)")
        raise BuildRefused(
            f"release v{version} of {app} runs {what}, not a slug; the Platform API exposes no registry address or "
            "pull credential for it, so it cannot be copied from Heroku: build and push the image yourself (for "
            "example with the workflow `heroku2aws init --ci github` writes) and give it as \"image\" in the "
            "execution input")
    slug = client._request("GET", f"/apps/{app}/slugs/{slug_ref['id']}")
    checksum = str(slug.get("checksum") or "")
    if not checksum.upper().startswith("SHA256:") or len(checksum) != 7 + 64:
        raise BuildRefused(f"slug {slug_ref['id']} of {app} v{version} has no SHA256 checksum "
                           f"({'none' if not checksum else 'not SHA256'}): its bytes cannot be verified")
    stack = str((slug.get("stack") or {}).get("name") or "")
    return Release(app=app, version=version, slug_id=str(slug["id"]), blob_url=str(slug["blob"]["url"]),
                   checksum=checksum[7:].lower(), stack=stack, process_types=dict(slug.get("process_types") or {}))


# ------------------------------------------------------------------------------ slug bytes


def download_slug(release: Release, dest: Path, *, timeout: float = 60.0) -> int:
    """Stream the slug to ``dest`` while hashing it; :class:`SlugChecksumMismatch` (and ``dest`` removed) when
    the digest is not the published one. Returns the size. The signed URL is never logged or put in an error."""
    digest = hashlib.sha256()
    size = 0
    host = urlsplit(release.blob_url).netloc
    try:
        if not release.blob_url.startswith(("https://", "http://")):
            raise BuildRefused(f"slug {release.slug_id}: its blob URL is not http(s)")
        with urllib.request.urlopen(release.blob_url, timeout=timeout) as response, open(dest, "wb") as out:  # noqa: S310 - http(s) checked
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        status = getattr(exc, "code", None)
        raise BuildRefused(f"slug {release.slug_id} of {release.app} v{release.version} could not be downloaded "
                           f"from {host}: {f'HTTP {status}' if status else type(exc).__name__}") from None
    got = digest.hexdigest()
    if got != release.checksum:
        dest.unlink(missing_ok=True)
        raise SlugChecksumMismatch(
            f"slug {release.slug_id} of {release.app} v{release.version}: the {size} bytes downloaded hash to "
            f"SHA256:{got}, not the published SHA256:{release.checksum}; refusing to build an image from it")
    return size


def unpack_slug(tarball: Path, root: Path) -> Path:
    """Unpack the slug's ``./app`` into ``root/app`` (returned), streaming member by member."""
    app_dir = root / "app"
    app_dir.mkdir(parents=True, exist_ok=True)
    staging = root / ".slug"
    with tarfile.open(tarball, mode="r|gz") as archive:
        for member in archive:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if name != "app" and not name.startswith("app/"):
                continue  # a slug holds ./app only (anything else is not the app's)
            archive.extract(member, staging, filter="data")
    unpacked = staging / "app"
    if not unpacked.is_dir():
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildRefused("the slug has no ./app directory (not a Heroku slug)")
    shutil.rmtree(app_dir)
    unpacked.rename(app_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return app_dir


# ------------------------------------------------------------------------------ image


def base_image(stack: str) -> str:
    number = SUPPORTED_STACKS.get(stack)
    if number is None:
        raise BuildRefused(f"stack {stack or '(none)'!r} has no published runtime image here: known stacks are "
                           f"{', '.join(sorted(SUPPORTED_STACKS))}; give the app's image as \"image\" in the input")
    return f"heroku/heroku:{number}"


def image_config(release: Release) -> dict[str, Any]:
    """What the image runs: its base, entrypoint, default command and environment (also the local image's
    ``image.json``)."""
    web = release.process_types.get("web")
    return {"base": base_image(release.stack), "entrypoint": [ENTRYPOINT_PATH],
            "cmd": [web] if web else [], "workdir": "/app", "env": {"HOME": "/app"},
            "process_types": release.process_types, "heroku": {"app": release.app, "release": release.tag,
                                                               "slug": release.slug_id, "stack": release.stack}}


def dockerfile(config: dict[str, Any]) -> str:
    lines = [
        "# heroku2aws: the Heroku release's slug on the stack's runtime image (written by heroku2aws.image.slug_image)",
        f"FROM {config['base']}",
        "COPY app/ /app/",
        f"COPY heroku2aws-process {ENTRYPOINT_PATH}",
        "WORKDIR /app",
        *(f"ENV {k}={v}" for k, v in config["env"].items()),
        f"LABEL org.opencontainers.image.version={config['heroku']['release']}",
        f"ENTRYPOINT {json.dumps(config['entrypoint'])}",
    ]
    if config["cmd"]:
        lines.append(f"CMD {json.dumps(config['cmd'])}")
    return "\n".join(lines) + "\n"


def entrypoint_script(wrapper: str) -> str:
    """The image's entrypoint. One argument is a Procfile command line (the image's default command, or
    ``docker run IMAGE "bundle exec puma"``): run as Heroku runs a dyno's, through ``wrapper``. Several arguments are
    a command vector (an ECS task definition's ``Command``, which plan_services makes the same wrapper already):
    executed as given, so the wrapper never runs twice."""
    marker = "HEROKU2AWS_WRAPPER"
    if marker in wrapper:
        raise ValueError("the wrapper text contains the heredoc marker")
    return ("#!/bin/bash\n"
            "# heroku2aws: the image's entrypoint (heroku2aws.image.slug_image.entrypoint_script).\n"
            'if [ "$#" -ne 1 ]; then exec "$@"; fi\n'
            f"wrapper=$(cat <<'{marker}'\n{wrapper.rstrip()}\n{marker}\n)\n"
            'exec /bin/bash -c "$wrapper" "${HEROKU2AWS_PROCESS_TYPE:-process}" "$1"\n')


def write_context(release: Release, context: Path) -> dict[str, Any]:
    from ..steps.plan_services import PROCESS_WRAPPER

    config = image_config(release)
    (context / "Dockerfile").write_text(dockerfile(config))
    entry = context / "heroku2aws-process"
    entry.write_text(entrypoint_script(PROCESS_WRAPPER))
    entry.chmod(0o755)
    (context / "image.json").write_text(json.dumps(config, indent=1, sort_keys=True))
    return config


def _repository(uri: str) -> tuple[str, str]:
    registry, _, name = uri.partition("/")
    if not name:
        raise BuildRefused(f"not an ECR repository URI: {uri!r}")
    return registry, name


def _tag_exists(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        return True
    except ecr.exceptions.ImageNotFoundException:
        return False


def _push_docker(ecr: Any, context: Path, image: str, registry: str) -> None:
    import base64

    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    subprocess.run(["docker", "login", "--username", user, "--password-stdin", registry], input=password.encode(),
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["docker", "build", "--platform", "linux/amd64", "--tag", image, str(context)], check=True)
    subprocess.run(["docker", "push", image], check=True)


def _push_local(ecr: Any, context: Path, repository: str, tag: str, release: Release, roots: Path) -> None:
    """The rehearsal's "build and push": the context is the image's root, kept where the local ECS finds it."""
    target = roots / repository / tag
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(context, target, symlinks=True)
    config = (context / "image.json").read_bytes()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                           "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 0,
                            "digest": "sha256:" + release.checksum}]}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def build(client: Any, ecr: Any, app: str, repository_uri: str, *, builder: str = "docker",
          workdir: Path | None = None, roots: Path | None = None) -> dict[str, str]:
    """Build and push the image of ``app``'s current release; returns the variables the build exports."""
    release = release_of(client, app)
    base_image(release.stack)  # refuse an unknown stack before downloading anything
    registry, repository = _repository(repository_uri)
    image = f"{repository_uri}:{release.tag}"
    out = {"IMAGE_URI": image, "IMAGE_TAG": release.tag, "RELEASE_VERSION": str(release.version), "PUSHED": "false"}
    local_root_missing = builder == "local-root" and roots is not None and not (roots / repository / release.tag).is_dir()
    if _tag_exists(ecr, repository, release.tag) and not local_root_missing:
        print(f"heroku2aws build: {image} is already in ECR (release {release.tag}): nothing to build", flush=True)
        return out
    with tempfile.TemporaryDirectory(prefix="heroku2aws-build-", dir=workdir) as tmp:
        context = Path(tmp) / "context"
        context.mkdir()
        tarball = Path(tmp) / "slug.tgz"
        size = download_slug(release, tarball)
        print(f"heroku2aws build: slug {release.slug_id} of {app} {release.tag}: {size} bytes, SHA256 verified",
              flush=True)
        unpack_slug(tarball, context)
        tarball.unlink()
        write_context(release, context)
        if builder == "docker":
            _push_docker(ecr, context, image, registry)
        elif builder == "local-root":
            if roots is None:
                raise BuildRefused("the local-root builder needs HEROKU2AWS_IMAGE_ROOTS")
            if not _tag_exists(ecr, repository, release.tag):
                _push_local(ecr, context, repository, release.tag, release, roots)
                out["PUSHED"] = "true"
            else:
                shutil.copytree(context, roots / repository / release.tag, symlinks=True)
            print(f"heroku2aws build: {image} pushed (local root)", flush=True)
            return out
        else:
            raise BuildRefused(f"unknown builder {builder!r}")
    out["PUSHED"] = "true"
    print(f"heroku2aws build: {image} pushed", flush=True)
    return out


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m heroku2aws.image.slug_image", description=__doc__.split("\n")[0])
    parser.add_argument("--builder", choices=("docker", "local-root"),
                        default=os.environ.get("HEROKU2AWS_IMAGE_BUILDER", "docker"))
    parser.add_argument("--env-file", default="build.env")
    args = parser.parse_args(argv)
    try:
        app = os.environ["HEROKU2AWS_APP"]
        secret_arn = os.environ["HEROKU2AWS_API_KEY_SECRET_ARN"]
        repository_uri = os.environ["HEROKU2AWS_IMAGE_REPOSITORY_URI"]
    except KeyError as exc:
        print(f"heroku2aws build: refused: environment variable {exc.args[0]} is not set", file=sys.stderr)
        return 2
    import boto3

    from ..clients.heroku import client_for
    from ..contracts.errors import HerokuApiError

    roots = os.environ.get("HEROKU2AWS_IMAGE_ROOTS")
    try:
        values = build(client_for(secret_arn), boto3.client("ecr"), app, repository_uri, builder=args.builder,
                       roots=Path(roots) if roots else None)
    except (BuildRefused, HerokuApiError) as exc:
        print(f"heroku2aws build: refused: {exc}", file=sys.stderr, flush=True)
        return 1
    write_env_file(Path(args.env_file), values)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
