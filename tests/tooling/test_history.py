"""The execution's worst-case history stays under Step Functions' 25,000 events (heroku2aws_cli.history)."""

from __future__ import annotations

import copy
import json

import pytest

from heroku2aws_cli.history import DEFAULT_ASL, HISTORY_LIMIT, history_bound, waits_until, worst_case_input


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
            assert "/ 10000)" in state["Seconds"]
            state["Seconds"] = state["Seconds"].replace("/ 10000)", "/ 10000000)")  # 0.01 % of the time waited
    assert history_bound(loose).events > HISTORY_LIMIT > history_bound(asl).events


def test_given_a_loop_that_sets_its_deadline_afresh_inside_itself_then_the_bound_refuses_it(asl):
    broken = copy.deepcopy(asl)
    for name, state in _states(broken):
        if name == "Check the DMS full load":
            state.setdefault("Assign", {})["copyDeadline"] = "{% $millis() + 1000 %}"
    with pytest.raises(ValueError, match="set afresh inside its own loop"):
        history_bound(broken)


def test_the_waits_of_a_loop_grow_with_the_logarithm_of_its_timeout():
    # one poll a second for 7 days would be 604,800 polls; at 10 % of the time waited it is a few dozen more
    # than the first polls at poll_seconds
    assert waits_until(604800, 1, 10000) < 140
    assert waits_until(10, 1, 10000) == 11  # polls every poll_seconds until 10 of them passed: rehearsals stay fast
    brute, elapsed = 0, 0.0
    while elapsed <= 3600:
        elapsed += max(30, (elapsed * 1000) // 5000)
        brute += 1
    assert waits_until(3600, 30, 5000) == brute
