"""Hypothesis strategies for execution inputs (issue 14, 7): any JSON value, and the production input with any
field replaced, deleted or added. Shared by the step's and the ``plan`` command's tests."""

from __future__ import annotations

import copy

from helpers import raw_production_input
from hypothesis import strategies as st

__all__ = ["BASE", "MARK", "json_values", "mutated_inputs"]

MARK = "zq-SECRET-7f3a9c"  # a value that must never come back in an error message

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
           | st.just(MARK) | st.just("postgres://u:" + MARK + "@h/d") | st.just("x" * 40_000))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=30)


def _paths(doc, prefix=()):
    """Every path into the production input (objects and lists)."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


BASE = raw_production_input()
PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated_inputs(draw):
    """The production input with a few fields replaced by any JSON value, deleted, or extra keys added."""
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            action = draw(st.sampled_from(["replace", "delete", "extra"]))
            if action == "replace":
                node[path[-1]] = draw(json_values)
            elif action == "delete" and isinstance(node, dict):
                node.pop(path[-1], None)
            elif isinstance(node, dict):
                node[draw(st.text(max_size=8))] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent: this path is gone
    return doc
