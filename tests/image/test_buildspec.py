"""The CodeBuild project of template.yaml runs the build script and exports what it writes."""

from __future__ import annotations

import yaml

from heroku2aws_rehearsal.deploy import load_template


def _project() -> dict:
    return load_template()["Resources"]["ImageBuildProject"]["Properties"]


def test_buildspec_runs_the_build_script_and_exports_every_variable_it_writes(tmp_path):
    from heroku2aws.image.slug_image import write_env_file

    spec = yaml.safe_load(_project()["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert any("python3 -m heroku2aws.image.slug_image --builder docker --env-file build.env" in c for c in commands)
    assert commands[-1] == ". ./build.env"  # the same shell: the exported variables are set when the build ends
    written = tmp_path / "build.env"
    write_env_file(written, {"IMAGE_URI": "r/a:v1", "IMAGE_TAG": "v1", "RELEASE_VERSION": "1", "PUSHED": "true"})
    names = [line.split("=", 1)[0].removeprefix("export ") for line in written.read_text().splitlines()]
    assert sorted(spec["env"]["exported-variables"]) == sorted(names)


def test_the_build_gets_the_layer_and_the_repository_and_runs_privileged_on_arm():
    project = _project()
    env = {v["Name"] for v in project["Environment"]["EnvironmentVariables"]}
    assert {"HEROKU2AWS_APP", "HEROKU2AWS_IMAGE_REPOSITORY_URI", "HEROKU2AWS_SHARED_LAYER_ARN"} <= env
    assert project["Environment"]["PrivilegedMode"] is True  # docker build inside the build container
    assert project["Environment"]["Type"] == "ARM_CONTAINER"  # the layer is built for arm64
    install = " ".join(yaml.safe_load(project["Source"]["BuildSpec"])["phases"]["install"]["commands"])
    assert "get-layer-version-by-arn" in install and "$HEROKU2AWS_SHARED_LAYER_ARN" in install
