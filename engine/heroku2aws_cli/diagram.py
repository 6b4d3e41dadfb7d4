"""``heroku2aws diagram``: the state machine as a Mermaid flowchart, generated from the ASL.

Every state is a node labelled with its name (Choice a rhombus, Succeed and Fail terminal shapes, Wait a
parallelogram); a Parallel state is a ``subgraph`` holding one ``subgraph`` per branch, a Map state a
``subgraph`` holding its item processor. Edges: ``Next``, ``Default``, each ``Choices`` rule (labelled with
its condition, shortened), ``Catch`` (dashed, labelled with the error names) and ``End``. Node ids are
derived from the state names (``n_`` + letters and digits), so they are stable, never a Mermaid keyword,
and the generated text only changes where the ASL does.

``--stages`` gives the workflow at a glance instead: one node per stage (a stage begins at the state that
records it in ``$timeline``), the rollback, the ends. ``--write`` puts the stage diagram in README.md (between
``<!-- stages:start -->`` and ``<!-- stages:end -->``) and the full one in docs/state-machine.md (between
``<!-- diagram:start -->`` and ``<!-- diagram:end -->``); tests fail when either disagrees with the ASL.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from . import project

START_MARK = "<!-- diagram:start -->"
END_MARK = "<!-- diagram:end -->"
DEFAULT_ASL = project.ASL
LABEL_CHARS = 40

_COMPARISONS = {
    "StringEquals": "==", "StringLessThan": "<", "StringGreaterThan": ">", "StringLessThanEquals": "<=",
    "StringGreaterThanEquals": ">=", "StringMatches": "matches", "NumericEquals": "==", "NumericLessThan": "<",
    "NumericGreaterThan": ">", "NumericLessThanEquals": "<=", "NumericGreaterThanEquals": ">=",
    "BooleanEquals": "==", "TimestampEquals": "==", "TimestampLessThan": "<", "TimestampGreaterThan": ">",
    "TimestampLessThanEquals": "<=", "TimestampGreaterThanEquals": ">=",
}


# ------------------------------------------------------------------ text


def escape(text: str) -> str:
    """Text safe inside a double-quoted Mermaid label (entity codes for the characters Mermaid reads)."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    out = []
    for i, ch in enumerate(text):
        if ch == "$" and "$" in text[max(0, i - 1):i] + text[i + 1:i + 2]:
            out.append("#36;")  # "$$" would start a KaTeX formula
        elif ch == "#":
            out.append("#35;")
        elif ch == '"':
            out.append("#quot;")
        elif ch == "<":
            out.append("#60;")
        elif ch == ">":
            out.append("#62;")
        elif ch == "&":
            out.append("#38;")
        elif ch == "`":
            out.append("'")
        else:
            out.append(ch)
    return "".join(out)


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _jsonata_body(value: str) -> str:
    m = re.fullmatch(r"\s*\{%(.*)%\}\s*", value, re.DOTALL)
    return m.group(1).strip() if m else value


def condition_text(rule: dict[str, Any]) -> str:
    """A Choice rule, briefly: the JSONata ``Condition`` without ``{% %}``, or a JSONPath rule spelt out."""
    if "Condition" in rule:
        cond = rule["Condition"]
        return _jsonata_body(cond) if isinstance(cond, str) else json.dumps(cond)
    for key, joiner in (("And", " and "), ("Or", " or ")):
        if key in rule:
            return "(" + joiner.join(condition_text(r) for r in rule[key]) + ")"
    if "Not" in rule:
        return "not " + condition_text(rule["Not"])
    variable = rule.get("Variable", "")
    for key, value in rule.items():
        if key in {"Variable", "Next", "Comment", "Assign", "Output"}:
            continue
        name = key[:-4] if key.endswith("Path") and key[:-4] in _COMPARISONS else key
        if name in _COMPARISONS:
            shown = value if key.endswith("Path") else json.dumps(value)
            return f"{variable} {_COMPARISONS[name]} {shown}"
        if key.startswith("Is"):
            return f"{variable} {key}={json.dumps(value)}"
    return "condition"


# ------------------------------------------------------------------ ids


class _Ids:
    def __init__(self) -> None:
        self.by_scope: dict[tuple[int, str], str] = {}
        self.used: set[str] = set()

    def make(self, base: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", base).strip("_").lower()[:64] or "state"
        ident = f"n_{slug}"
        n = 2
        while ident in self.used:
            ident = f"n_{slug}_{n}"
            n += 1
        self.used.add(ident)
        return ident

    def state(self, scope: int, name: str) -> str:
        key = (scope, name)
        if key not in self.by_scope:
            self.by_scope[key] = self.make(name)
        return self.by_scope[key]


# ------------------------------------------------------------------ the flowchart


class _Writer:
    def __init__(self) -> None:
        self.ids = _Ids()
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.scope_ids: list[str] = []
        self.classes: dict[str, list[str]] = {"fail": [], "succeed": [], "choice": [], "wait": [], "terminal": []}

    def node(self, ident: str, label: str, shape: str, indent: str) -> None:
        text = escape(label)
        opening, closing = {
            "rect": ("[", "]"), "choice": ("{", "}"), "terminal": ("([", "])"), "wait": ("[/", "/]"),
            "circle": ("((", "))"),
        }[shape]
        self.lines.append(f'{indent}{ident}{opening}"{text}"{closing}')

    def edge(self, src: str, dst: str, label: str | None = None, dashed: bool = False) -> None:
        arrow = "-.->" if dashed else "-->"
        self.edges.append(f'    {src} {arrow}|"{escape(label)}"| {dst}' if label else f"    {src} {arrow} {dst}")

    def scope(self, machine: dict[str, Any], indent: str, owner: str | None = None) -> None:
        """Declare a (sub)machine's states and edges, with its own start and end points.

        ``owner`` is the id of the Parallel branch or Map holding it (None: the state machine itself).
        """
        top = owner is None
        scope = len(self.scope_ids) + 1
        self.scope_ids.append(owner or "")
        states: dict[str, Any] = machine.get("States") or {}
        for name in states:
            self.ids.state(scope, name)
        prefix = (owner or "n_")[2:]
        start_id = self.ids.make(f"{prefix} start" if prefix else "start")
        end_id = self.ids.make(f"{prefix} end" if prefix else "end")
        self.node(start_id, "Start" if top else "start", "circle", indent)
        self.classes["terminal"].append(start_id)
        start_at = machine.get("StartAt")
        if start_at in states:
            self.edge(start_id, self.ids.state(scope, start_at))
        needs_end = False
        for name, state in states.items():
            needs_end |= self.state(scope, name, state, indent, end_id)
        if needs_end:
            self.node(end_id, "End" if top else "end", "circle", indent)
            self.classes["terminal"].append(end_id)

    def target(self, scope: int, name: Any) -> str:
        if isinstance(name, str):
            return self.ids.state(scope, name)  # an unknown name still gets a (label-less) node: visible breakage
        return self.ids.make("invalid target")

    def state(self, scope: int, name: str, state: dict[str, Any], indent: str, end_id: str) -> bool:
        ident = self.ids.state(scope, name)
        kind = state.get("Type", "")
        if kind in {"Parallel", "Map"}:
            self.lines.append(f'{indent}subgraph {ident}["{escape(name)}"]')
            self.lines.append(f"{indent}    direction TB")
            if kind == "Parallel":
                for i, branch in enumerate(state.get("Branches") or [], 1):
                    bid = self.ids.make(f"{name} branch {i}")
                    self.lines.append(f'{indent}    subgraph {bid}["branch {i}"]')
                    self.lines.append(f"{indent}        direction TB")
                    self.scope(branch, indent + "        ", bid)
                    self.lines.append(f"{indent}    end")
            else:
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                self.scope(processor, indent + "    ", ident)
            self.lines.append(f"{indent}end")
        elif kind == "Choice":
            self.node(ident, name, "choice", indent)
            self.classes["choice"].append(ident)
        elif kind in {"Succeed", "Fail"}:
            self.node(ident, name, "terminal", indent)
            self.classes["succeed" if kind == "Succeed" else "fail"].append(ident)
        elif kind == "Wait":
            self.node(ident, name, "wait", indent)
            self.classes["wait"].append(ident)
        else:
            self.node(ident, name, "rect", indent)

        ends = False
        for rule in state.get("Choices") or []:
            self.edge(ident, self.target(scope, rule.get("Next")), shorten(condition_text(rule)))
        if "Default" in state:
            self.edge(ident, self.target(scope, state["Default"]), "Default")
        if "Next" in state:
            self.edge(ident, self.target(scope, state["Next"]))
        for catcher in state.get("Catch") or []:
            errors = ", ".join(catcher.get("ErrorEquals") or []) or "error"
            self.edge(ident, self.target(scope, catcher.get("Next")), shorten(errors), dashed=True)
        if state.get("End") is True or kind == "Succeed":
            self.edge(ident, end_id)
            ends = True
        return ends


def mermaid(asl: dict) -> str:
    """The state machine ``asl`` as a Mermaid ``flowchart TD`` (text ending in a newline)."""
    w = _Writer()
    w.scope(asl, "    ")
    out = ["flowchart TD", *w.lines, *w.edges]
    styles = {
        "choice": "fill:#fff8e1,stroke:#b58900",
        "wait": "fill:#eef4ff,stroke:#4a6fa5",
        "fail": "fill:#fde2e1,stroke:#c0392b,color:#7b241c",
        "succeed": "fill:#e3f6e5,stroke:#2e7d32",
        "terminal": "fill:#eeeeee,stroke:#666666",
    }
    for cls, members in w.classes.items():
        if members:
            out.append(f"    classDef {cls} {styles[cls]}")
            out.append(f"    class {','.join(members)} {cls}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ stages


_STAGE_MARK = re.compile(r"'stage':\s*'([a-z0-9-]+)'")


def _successors(state: dict[str, Any]) -> list[tuple[str, bool]]:
    """(next state, is a Catch) of a state."""
    out = [(state["Next"], False)] if isinstance(state.get("Next"), str) else []
    out += [(r["Next"], False) for r in state.get("Choices") or [] if isinstance(r.get("Next"), str)]
    if isinstance(state.get("Default"), str):
        out.append((state["Default"], False))
    out += [(c["Next"], True) for c in state.get("Catch") or [] if isinstance(c.get("Next"), str)]
    return out


def stages(asl: dict) -> list[tuple[str, list[str]]]:
    """The top-level states by stage: a stage starts at the state that records it in ``$timeline``
    (``{'stage': 'prepare', …}``); the states every failure catcher leads to make the stage ``rollback``;
    Fail states stand alone (an end, not a stage)."""
    states: dict[str, Any] = asl["States"]
    caught = {c["Next"] for s in states.values() for c in s.get("Catch") or [] if c.get("ErrorEquals") == ["States.ALL"]}
    entries = [n for n in caught if states.get(n, {}).get("Type") != "Fail"]
    rollback: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in rollback or name not in states or states[name].get("Type") == "Fail":
            continue
        rollback.add(name)
        todo += [n for n, _ in _successors(states[name])]
    out: list[tuple[str, list[str]]] = []
    current = None
    for name, state in states.items():
        if state.get("Type") == "Fail" or name in rollback:
            continue
        marks = _STAGE_MARK.findall(json.dumps(state.get("Assign") or {}))
        if marks or current is None:
            current = marks[0] if marks else "start"
            out.append((current, []))
        out[-1][1].append(name)
    if rollback:
        out.append(("rollback", [n for n in states if n in rollback]))
    return out


def stage_mermaid(asl: dict) -> str:
    """The workflow at a glance: one node per stage, the ends (Fail states), and how one leads to the next."""
    states: dict[str, Any] = asl["States"]
    groups = stages(asl)
    where = {name: stage for stage, names in groups for name in names}
    ids = {stage: "s_" + re.sub(r"[^a-z0-9]", "_", stage) for stage, _ in groups}
    lines = ["flowchart LR"]
    for stage, names in groups:
        label = stage.replace("-", " ").capitalize()
        shape = ("[[", "]]") if stage == "rollback" else ("[", "]")
        lines.append(f"    {ids[stage]}{shape[0]}\"{escape(label)}<br/>{len(names)} states\"{shape[1]}")
    ends = [n for n, s in states.items() if s.get("Type") == "Fail"]
    for name in ends:
        lines.append(f"    {_node_id(name)}([\"{escape(name)}\"])")
    seen: set[tuple[str, str, bool]] = set()
    for name, state in states.items():
        src = ids.get(where.get(name, ""))
        if src is None:
            continue
        for target, caught in _successors(state):
            dst = ids.get(where.get(target, "")) or (_node_id(target) if target in ends else None)
            if dst is None or dst == src:
                continue
            # reaching the rollback or an end is a failure, whether a Catch or a Choice leads there
            failure = caught or dst == ids.get("rollback") or target in ends
            seen.add((src, dst, failure and src != ids.get("rollback")))
    done = ids.get(groups[-2][0]) if len(groups) > 1 and groups[-1][0] == "rollback" else ids[groups[-1][0]]
    for src, dst, caught in sorted(seen, key=lambda e: (list(ids.values()).index(e[0]), e[1], e[2])):
        lines.append(f"    {src} -.->|\"on failure\"| {dst}" if caught else f"    {src} --> {dst}")
    lines.append(f"    {done} --> s_end((\"Succeeded\"))")
    return "\n".join(lines) + "\n"


def _node_id(name: str) -> str:
    return "e_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ------------------------------------------------------------------ README and docs/

STAGES_START = "<!-- stages:start -->"
STAGES_END = "<!-- stages:end -->"
FULL_DOC = project.ROOT / "docs" / "state-machine.md"


def readme_block(diagram: str, start: str = START_MARK, end: str = END_MARK) -> str:
    return f"{start}\n```mermaid\n{diagram}```\n{end}"


def extract_block(text: str, start_mark: str = START_MARK, end_mark: str = END_MARK) -> str | None:
    """What lies between the markers (markers included), or None when they are missing."""
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        return None
    return text[start:end + len(end_mark)]


def write_readme(path: Path, diagram: str, start: str = START_MARK, end: str = END_MARK) -> bool:
    """Replace a file's diagram block; a missing file is created with just a heading and the block.

    Returns whether the file changed. Raises ``ValueError`` when the file exists without both markers.
    """
    block = readme_block(diagram, start, end)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# The state machine, state by state\n\n{block}\n")
        return True
    text = path.read_text()
    old = extract_block(text, start, end)
    if old is None:
        raise ValueError(f"{path} has no {start} … {end} block; add the two markers where the diagram belongs")
    new = text.replace(old, block, 1)
    if new == text:
        return False
    path.write_text(new)
    return True


def load_asl(path: Path) -> dict:
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku2aws diagram", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asl", type=Path, default=DEFAULT_ASL, help="the ASL file (default %(default)s)")
    parser.add_argument("--stages", action="store_true", help="print the stage-level diagram instead")
    parser.add_argument("--write", action="store_true",
                        help=f"update README.md's stage diagram and {FULL_DOC.relative_to(project.ROOT)}'s full one")
    parser.add_argument("--write-readme", type=Path, metavar="FILE",
                        help="replace the full diagram's block of this file instead of printing")
    args = parser.parse_args(argv)
    try:
        asl = load_asl(args.asl)
    except FileNotFoundError:
        print(f"heroku2aws diagram: {args.asl}: no such file", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"heroku2aws diagram: {args.asl} is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(asl, dict) or not isinstance(asl.get("States"), dict):
        print(f"heroku2aws diagram: {args.asl} has no States", file=sys.stderr)
        return 2
    diagram = mermaid(asl)
    if args.write:
        try:
            for path, text, start, end in ((project.README, stage_mermaid(asl), STAGES_START, STAGES_END),
                                           (FULL_DOC, diagram, START_MARK, END_MARK)):
                changed = write_readme(path, text, start, end)
                print(f"{path}: diagram {'updated' if changed else 'already up to date'}", file=sys.stderr)
        except ValueError as exc:
            print(f"heroku2aws diagram: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.write_readme is None:
        sys.stdout.write(stage_mermaid(asl) if args.stages else diagram)
        return 0
    try:
        changed = write_readme(args.write_readme, diagram)
    except ValueError as exc:
        print(f"heroku2aws diagram: {exc}", file=sys.stderr)
        return 1
    print(f"{args.write_readme}: diagram {'updated' if changed else 'already up to date'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
