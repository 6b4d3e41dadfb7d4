"""Formation per the published schema: ``dyno_size`` first, every current size name mapped to a valid Fargate
size (a table the user can override), Fir process names normalised when matched to the Procfile."""

from __future__ import annotations

import pytest
from helpers import EXECUTION_ID, with_changes
from pydantic import ValidationError

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.contracts.sizes import DYNO_SIZES, FIR_SIZES, dyno_size_of, is_valid_fargate, lookup
from heroku2aws.steps.heroku_control import formation_of
from heroku2aws.steps.plan_services import plan_services, process_types

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:heroku2aws/acme-storefront/config-AbCdEf"
CONFIG = {"secret_arn": SECRET_ARN, "imported": ["DATABASE_URL"]}

#: Every size name the Heroku CLI knows (heroku/cli src/commands/ps/type.ts, COST_MONTHLY), as it spells them.
HEROKU_CLI_SIZES = (
    "1X", "2X", "Basic", "Eco", "Free", "Hobby", "PX", "Performance", "Performance-2XL", "Performance-L",
    "Performance-L-RAM", "Performance-M", "Performance-XL", "Private-L", "Private-M", "Private-Memory-2XL",
    "Private-Memory-L", "Private-Memory-XL", "Private-S", "Shield-L", "Shield-M", "Shield-Memory-2XL",
    "Shield-Memory-L", "Shield-Memory-XL", "Shield-S", "Standard-1X", "Standard-2X", *FIR_SIZES)


def plan(production_input, formation, procfile="web: run\n", **changes):
    doc = with_changes(production_input, ecs__procfile=procfile, **changes)
    return plan_services(ExecutionInput.model_validate(doc), {"heroku": {"formation": formation}}, CONFIG,
                         EXECUTION_ID)


def sizes_of(result):
    return {s.type: (s.task_definition["Cpu"], s.task_definition["Memory"]) for s in result.services}


@pytest.mark.parametrize("name", HEROKU_CLI_SIZES)
def test_given_any_size_name_heroku_uses_when_looked_up_then_it_maps_to_a_valid_fargate_size(name):
    found = lookup(name)
    assert found is not None, name
    assert is_valid_fargate(found[0], found[1]), (name, found)


def test_every_entry_of_the_table_is_a_valid_fargate_size_with_at_least_the_dyno_s_memory_or_a_note():
    published_mb = {"eco": 512, "basic": 512, "standard-1x": 512, "standard-2x": 1024, "private-s": 1024,
                    "performance-m": 2560, "performance-l": 14336, "performance-l-ram": 30720,
                    "performance-xl": 63488, "performance-2xl": 129024}
    for name, (cpu, memory, note) in DYNO_SIZES.items():
        assert is_valid_fargate(cpu, memory), name
        if name in published_mb:
            assert memory >= published_mb[name] or note, name


def test_given_a_formation_with_dyno_size_and_the_deprecated_size_when_planned_then_dyno_size_wins(production_input):
    formation = [{"type": "web", "quantity": 2, "size": "Standard-1X",
                  "dyno_size": {"id": "5b7bd6a8-4e9b-4a4a-9c7e-0b0c6f7d3e11", "name": "Performance-L"}}]
    assert dyno_size_of(formation[0]) == "Performance-L"
    assert sizes_of(plan(production_input, formation)) == {"web": ("4096", "16384")}
    assert formation_of(formation)[0].size == "Performance-L"


def test_given_only_the_deprecated_size_when_planned_then_it_is_used(production_input):
    assert sizes_of(plan(production_input, [{"type": "web", "quantity": 1, "size": "Standard-2X"}])) == {
        "web": ("512", "1024")}


@pytest.mark.parametrize(("size", "expected", "warned"), [
    ("Private-Memory-L", ("4096", "30720"), True), ("Shield-Memory-XL", ("8192", "61440"), True),
    ("dyno-4c-32gb", ("8192", "32768"), True), ("dyno-32c-64gb", ("16384", "65536"), True),
    ("dyno-2c-8gb", ("2048", "8192"), False), ("Performance-2XL", ("16384", "122880"), True),
])
def test_given_sizes_fargate_cannot_match_exactly_when_planned_then_the_nearest_and_a_warning(
        production_input, size, expected, warned):
    result = plan(production_input, [{"type": "web", "quantity": 1, "dyno_size": {"name": size}}])
    assert sizes_of(result) == {"web": expected}
    assert any(w.startswith(f"web ({size})") for w in result.warnings) is warned


def test_given_an_override_in_the_input_when_planned_then_it_replaces_the_table_entry(production_input):
    result = plan(production_input, [{"type": "web", "quantity": 1, "dyno_size": {"name": "Standard-2X"}}],
                  ecs__dyno_sizes={"standard-2x": {"cpu": 1024, "memory": 2048}})
    assert sizes_of(result) == {"web": ("1024", "2048")}


def test_given_an_override_for_a_size_heroku_has_that_the_table_lacks_then_it_is_used(production_input):
    result = plan(production_input, [{"type": "web", "quantity": 1, "dyno_size": {"name": "Private-Mega"}}],
                  ecs__dyno_sizes={"Private-Mega": {"cpu": 2048, "memory": 16384}})
    assert sizes_of(result) == {"web": ("2048", "16384")}


@pytest.mark.parametrize("bad", [{"cpu": 256, "memory": 1536}, {"cpu": 4096, "memory": 32768},
                                 {"cpu": 3072, "memory": 8192}, {"cpu": 8192, "memory": 18000}])
def test_given_an_override_that_is_no_fargate_size_when_validated_then_refused(production_input, bad):
    with pytest.raises(ValidationError):
        ExecutionInput.model_validate(with_changes(production_input, ecs__dyno_sizes={"standard-2x": bad}))


def test_given_an_unknown_size_without_override_when_planned_then_invalid_input_names_it(production_input):
    with pytest.raises(InvalidInput, match="'Private-Mega'"):
        plan(production_input, [{"type": "web", "quantity": 1, "dyno_size": {"name": "Private-Mega"}}])


def test_given_a_fir_app_when_procfile_names_differ_by_case_or_underscore_then_they_match_the_formation(
        production_input):
    # On Fir, Procfile types are normalised (lower case, "_" -> "-"): "worker_beat" runs as "worker-beat".
    formation = [{"type": "web", "quantity": 2, "dyno_size": {"name": "dyno-1c-4gb"}},
                 {"type": "worker-beat", "quantity": 3, "dyno_size": {"name": "dyno-2c-8gb"}}]
    result = plan(production_input, formation, procfile="web: run\nworker_beat: celery beat\n")
    counts = {s.type: s.service["DesiredCount"] for s in result.services}
    assert counts == {"web": 2, "worker_beat": 3}
    assert sizes_of(result)["worker_beat"] == ("2048", "8192")
    assert not any("not migrated" in w or "not in the Heroku formation" in w for w in result.warnings)


def test_given_a_formation_type_the_procfile_lacks_even_normalised_then_it_is_reported():
    _, warnings = process_types("web: run\n", [{"type": "web", "quantity": 1}, {"type": "clock", "quantity": 1}])
    assert any("not migrated: clock" in w for w in warnings)


def test_the_readme_documents_every_entry_of_the_table_as_the_code_has_it():
    from helpers import ROOT

    readme = (ROOT / "README.md").read_text()
    for name, (cpu, memory, note) in DYNO_SIZES.items():
        assert f"| `{name}` | {cpu} | {memory} | {note} |" in readme, f"README's dyno size table lacks {name}"
