"""The execution's worst-case history stays under Step Functions' 25,000 events (heroku2aws_rehearsal.history)."""

from __future__ import annotations

import copy
import json

import pytest

from heroku2aws_rehearsal.history import DEFAULT_ASL, HISTORY_LIMIT, history_bound, worst_case_input


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(DEFAULT_ASL.read_text())


def _states(machine: dict):
    for name, state in machine["States"].items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])


def test_the_worst_case_input_is_at_the_schema_limits():
    worst = worst_case_input()
    assert worst["timings"]["poll_seconds"] == 1
    assert worst["timings"]["dms_timeout_seconds"] == 604800
    assert worst["traffic_steps"] == 10


def test_given_the_largest_timings_the_schema_accepts_then_the_history_stays_under_25000_events(asl):
    bound = history_bound(asl)
    assert bound.events < HISTORY_LIMIT, bound.by_state
    # every poll loop of the ASL was found and bounded (none is left to the deadline alone)
    waits = {name for name, state in _states(asl) if state["Type"] == "Wait" and "Bake" not in name}
    assert {loop.wait.rsplit(" / ", 1)[-1] for loop in bound.loops} == waits


def test_given_a_loop_bounded_only_by_its_deadline_then_the_bound_refuses_it(asl):
    broken = copy.deepcopy(asl)
    for name, state in _states(broken):
        if name == "Wait for the DMS full load":
            state["Seconds"] = "{% $cfg.timings.poll_seconds %}"
    with pytest.raises(ValueError, match="stretch its interval"):
        history_bound(broken)


def test_given_more_polls_per_loop_then_the_bound_grows_past_the_limit(asl):
    """The bound is not a constant: a loop allowed 10,000 polls pushes it over 25,000."""
    loose = copy.deepcopy(asl)
    for name, state in _states(loose):
        if name == "Wait for the DMS full load":
            state["Seconds"] = state["Seconds"].replace("/ 120)", "/ 10000)")
    assert history_bound(loose).events > HISTORY_LIMIT > history_bound(asl).events
