"""The Mermaid diagram generated from the ASL, and the README's copy of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from heroku2aws_cli import diagram
from heroku2aws_cli.diagram import (
    END_MARK,
    FULL_DOC,
    STAGES_END,
    STAGES_START,
    START_MARK,
    escape,
    extract_block,
    mermaid,
    readme_block,
    stage_mermaid,
    stages,
    write_readme,
)

ROOT = Path(__file__).resolve().parents[2]
ASL_FILE = ROOT / "statemachine" / "migration.asl.json"
README = ROOT / "README.md"

NODE = re.compile(r'^\s*(n_[a-z0-9_]+)(\[/|\(\[|\(\(|\[|\{)"(.*)"(/\]|\]\)|\)\)|\]|\})$')
SUBGRAPH = re.compile(r'^\s*subgraph (n_[a-z0-9_]+)\["(.*)"\]$')
EDGE = re.compile(r'^\s*(n_[a-z0-9_]+) (-->|-\.->)(?:\|"(.*)"\|)? (n_[a-z0-9_]+)$')


def all_states(machine: dict, path: tuple[str, ...] = ()) -> list[tuple[str, dict, tuple[str, ...]]]:
    out = []
    for name, state in machine.get("States", {}).items():
        out.append((name, state, path))
        for i, branch in enumerate(state.get("Branches") or []):
            out += all_states(branch, (*path, name, f"branch {i + 1}"))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            out += all_states(processor, (*path, name))
    return out


def parse(text: str) -> tuple[dict[str, tuple[str, str]], dict[str, str], list[tuple[str, str, str | None, str]]]:
    """(node id -> (label, shape opener), subgraph id -> title, edges (src, arrow, label, dst))."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes, subgraphs, edges = {}, {}, []
    depth = 0
    for line in lines[1:]:
        if m := NODE.match(line):
            assert m.group(1) not in nodes and m.group(1) not in subgraphs, f"id declared twice: {m.group(1)}"
            nodes[m.group(1)] = (m.group(3), m.group(2))
        elif m := SUBGRAPH.match(line):
            assert m.group(1) not in nodes and m.group(1) not in subgraphs
            subgraphs[m.group(1)] = m.group(2)
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3), m.group(4)))
        elif line.strip() in {"direction TB"} or re.match(r"^\s*(classDef|class) ", line):
            continue
        else:
            raise AssertionError(f"a line this test does not understand: {line!r}")
    assert depth == 0, "unbalanced subgraph/end"
    return nodes, subgraphs, edges


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(ASL_FILE.read_text())


@pytest.fixture(scope="module")
def parsed(asl):
    return parse(mermaid(asl))


def ids_by_label(parsed) -> dict[str, str]:
    nodes, subgraphs, _ = parsed
    out: dict[str, str] = {}
    for ident, (label, _) in nodes.items():
        out.setdefault(label, ident)
    for ident, title in subgraphs.items():
        out.setdefault(title, ident)
    return out


def test_state_names_are_unique_so_labels_identify_states(asl):
    names = [n for n, _, _ in all_states(asl)]
    assert len(names) == len(set(names))


def test_every_state_is_a_node_or_subgraph_labelled_with_its_name(asl, parsed):
    nodes, subgraphs, _ = parsed
    labels = [label for label, _ in nodes.values()] + list(subgraphs.values())
    states = all_states(asl)
    assert any(path for _, _, path in states), "no nested state in the ASL: this test would not cover nesting"
    for name, _state, _ in states:
        assert labels.count(escape(name)) == 1, f"state {name!r} has {labels.count(escape(name))} nodes"
    # exactly the states, plus the start/end points and the Parallel branches
    extra = [lbl for lbl in labels if lbl not in {escape(n) for n, _, _ in all_states(asl)}]
    assert set(extra) <= {"Start", "End", "start", "end"} | {f"branch {i}" for i in range(1, 50)}


def test_shapes_follow_the_state_types(asl, parsed):
    nodes, subgraphs, _ = parsed
    by_label = {label: shape for label, shape in nodes.values()}
    for name, state, _ in all_states(asl):
        kind = state["Type"]
        if kind in {"Parallel", "Map"}:
            assert escape(name) in subgraphs.values(), f"{kind} {name!r} is not a subgraph"
        elif kind == "Choice":
            assert by_label[escape(name)] == "{", name
        elif kind in {"Fail", "Succeed"}:
            assert by_label[escape(name)] == "([", name
        elif kind == "Wait":
            assert by_label[escape(name)] == "[/", name
        else:
            assert by_label[escape(name)] == "[", name


def test_every_transition_is_an_edge_and_catches_are_dashed(asl, parsed):
    _, _, edges = parsed
    ids = ids_by_label(parsed)
    edge_set = {(s, arrow, d) for s, arrow, _, d in edges}
    labelled = {(s, arrow, d): label for s, arrow, label, d in edges}
    catches = 0
    for name, state, _ in all_states(asl):
        me = ids[escape(name)]
        if "Next" in state:
            assert (me, "-->", ids[escape(state["Next"])]) in edge_set, f"{name} -> {state['Next']}"
        if "Default" in state:
            assert labelled.get((me, "-->", ids[escape(state["Default"])])) is not None
        for rule in state.get("Choices") or []:
            assert (me, "-->", ids[escape(rule["Next"])]) in edge_set, f"{name} -> {rule['Next']}"
        for catcher in state.get("Catch") or []:
            key = (me, "-.->", ids[escape(catcher["Next"])])
            assert key in edge_set, f"no dashed Catch edge {name} -> {catcher['Next']}"
            assert catcher["ErrorEquals"][0][:20] in labelled[key].replace("#35;", "#")
            catches += 1
        if state.get("End"):
            assert any(s == me and d.endswith("end") for s, _, d in edge_set), f"{name} has no End edge"
    assert catches > 0


def test_nested_parallel_in_map_jsonpath_choices_and_awkward_names():
    asl = {
        "StartAt": 'Say "hi" <now> & #1',
        "States": {
            'Say "hi" <now> & #1': {"Type": "Pass", "Next": "end"},
            "end": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Loop over things"},
                {"And": [{"Variable": "$.a", "StringEquals": "x"}, {"Not": {"Variable": "$.b", "IsPresent": True}}],
                 "Next": "Done"},
                {"Condition": "{% $$.x = 'a|b' and `c` %}", "Next": "Done"}], "Default": "Boom"},
            "Loop over things": {"Type": "Map", "ItemProcessor": {"StartAt": "Fan out", "States": {
                "Fan out": {"Type": "Parallel", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
                ], "Catch": [{"ErrorEquals": ["States.TaskFailed", "Custom.Error"], "Next": "Recover"}], "End": True},
                "Recover": {"Type": "Pass", "End": True}}}, "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Boom": {"Type": "Fail", "Error": "Boom"},
        },
    }
    text = mermaid(asl)
    nodes, subgraphs, edges = parse(text)
    labels = [lbl for lbl, _ in nodes.values()] + list(subgraphs.values())
    for name, _, _ in all_states(asl):
        assert escape(name) in labels, name
    assert "Say #quot;hi#quot; #60;now#62; #38; #35;1" in labels
    assert '"hi"' not in text and "<now>" not in text
    assert not any(ident in {"end", "graph", "subgraph"} for ident in nodes)
    assert set(subgraphs.values()) >= {"Loop over things", "Fan out", "branch 1", "branch 2"}
    assert any(arrow == "-.->" and "States.TaskFailed, Custom.Error" in (lbl or "") for _, arrow, lbl, _ in edges)
    assert any(lbl == "$.n #62; 3" for _, _, lbl, _ in edges)
    assert any(lbl == "#36;#36;.x = 'a|b' and 'c'" for _, _, lbl, _ in edges)  # no KaTeX "$$", no backtick
    assert all(len((lbl or "").replace("#60;", "<").replace("#62;", ">")) <= 60 for _, _, lbl, _ in edges)


def test_long_conditions_are_shortened():
    long = "{% " + " and ".join(f"$states.input.flag{i}" for i in range(10)) + " %}"
    asl = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": long, "Next": "S"}],
                                              "Default": "S"}, "S": {"Type": "Succeed"}}}
    _, _, edges = parse(mermaid(asl))
    label = next(lbl for s, _, lbl, _ in edges if lbl and lbl.startswith("$states"))
    assert len(label) == 40 and label.endswith("…")


# ------------------------------------------------------------------ README


def test_the_full_diagram_in_docs_matches_the_asl(asl):
    assert FULL_DOC.exists(), "docs/state-machine.md is missing"
    block = extract_block(FULL_DOC.read_text())
    assert block is not None, f"docs/state-machine.md has no {START_MARK} … {END_MARK} block"
    assert block == readme_block(mermaid(asl)), (
        "docs/state-machine.md's diagram and statemachine/migration.asl.json disagree: run `heroku2aws diagram --write`")


def test_the_readme_front_page_shows_the_stages_as_the_asl_has_them(asl):
    block = extract_block(README.read_text(), STAGES_START, STAGES_END)
    assert block == readme_block(stage_mermaid(asl), STAGES_START, STAGES_END), (
        "README.md's stage diagram and the ASL disagree: run `heroku2aws diagram --write`")
    assert START_MARK not in README.read_text()  # the full diagram lives in docs/, not on the front page


def test_the_stages_follow_the_timeline_marks_and_every_state_has_a_place(asl):
    groups = stages(asl)
    names = [stage for stage, _ in groups]
    assert names[:2] == ["validate", "prepare"] and names[-1] == "rollback"
    placed = [n for _, members in groups for n in members]
    fails = [n for n, s in asl["States"].items() if s["Type"] == "Fail"]
    assert sorted(placed + fails) == sorted(asl["States"])  # each top-level state once, the ends apart
    text = stage_mermaid(asl)
    assert 's_write_freeze -.->|"on failure"| s_rollback' in text
    assert "s_write_freeze --> s_finalize" in text


def test_a_new_stage_mark_makes_a_new_stage(asl):
    import copy

    changed = copy.deepcopy(asl)
    changed["States"]["Import the config vars into Secrets Manager"]["Assign"] = {
        "timeline": "{% $append($timeline, {'stage': 'import', 'at': $now()}) %}"}
    assert "import" in [stage for stage, _ in stages(changed)]
    assert "s_import" in stage_mermaid(changed)


def test_write_readme_replaces_only_the_block(tmp_path, asl):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{START_MARK}\nold stuff\n{END_MARK}\n\nafter\n")
    assert write_readme(readme, mermaid(asl)) is True
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert extract_block(text) == readme_block(mermaid(asl))
    assert "```mermaid\nflowchart TD\n" in text
    assert write_readme(readme, mermaid(asl)) is False


def test_write_readme_refuses_a_readme_without_markers_and_creates_a_missing_one(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no block here\n")
    with pytest.raises(ValueError, match="diagram:start"):
        write_readme(readme, "flowchart TD\n")
    assert diagram.main(["--asl", str(ASL_FILE), "--write-readme", str(readme)]) == 1
    assert readme.read_text() == "# no block here\n"
    missing = tmp_path / "new" / "README.md"
    missing.parent.mkdir()
    assert diagram.main(["--asl", str(ASL_FILE), "--write-readme", str(missing)]) == 0
    assert missing.read_text().startswith("# The state machine, state by state\n\n" + START_MARK)


def test_cli_prints_the_diagram(capsys, asl):
    assert diagram.main(["--asl", str(ASL_FILE)]) == 0
    assert capsys.readouterr().out == mermaid(asl)
    assert diagram.main(["--asl", "/nonexistent/asl.json"]) == 2
