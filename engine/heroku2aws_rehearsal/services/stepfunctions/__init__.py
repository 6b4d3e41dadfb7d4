"""Step Functions, emulated at least as strictly as AWS (moto 5.2.5's ASL interpreter, patched).

Organised as moto and LocalStack organise a service: one module per concern, and one runtime object
(``RUNTIME``) owning the mutable state (the fault injector), instead of module globals.

- ``jsonata``: JSONata evaluation with Step Functions' function library (``$eval`` refused).
- ``tasks`` / ``validation`` / ``models``: PascalCase <-> botocore shapes, every aws-sdk request validated
  against botocore's input shape, ``ecs:runTask.sync``.
- ``errors``: error names per integration, as AWS produces them.
- ``history``: the 25,000-event execution history quota.
- ``limits``: the 256 KiB payload quota (task inputs too) and its terminal ``States.DataLimitExceeded``.
- ``paging``: GetExecutionHistory's pages (``maxResults``, ``reverseOrder``, ``nextToken``).
- ``definition``: CreateStateMachine / UpdateStateMachine checks AWS makes and moto does not.
- ``faults``: fault injection for rehearsals (``--fail-at``), refusing names AWS could never raise there.

Sources are cited at each rule; the facts about AWS come from ``heroku2aws_conformance.rules``.
"""

from __future__ import annotations

import threading
from typing import Any

from .faults import FaultInjector, ImpossibleFault
from .jsonata import Evaluator

__all__ = ["RUNTIME", "FaultInjector", "ImpossibleFault", "StepFunctionsRuntime", "apply"]


class StepFunctionsRuntime:
    """The emulated Step Functions' own state: what a rehearsal arms, the JSONata evaluator."""

    def __init__(self) -> None:
        self.faults = FaultInjector()
        self.jsonata = Evaluator()
        self._applied = False
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.faults.clear()

    def apply(self) -> None:
        """Patch moto's interpreter once (idempotent)."""
        with self._lock:
            if self._applied:
                return
            self._applied = True
            from . import definition, errors, faults, history, limits, paging, tasks

            self._patch_jsonata()
            tasks.apply()
            errors.apply()
            faults.apply(self.faults)
            history.apply()
            limits.apply()
            paging.apply()
            definition.apply()

    def _patch_jsonata(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.string import string_expression
        from moto.stepfunctions.parser.asl.eval import states as states_mod
        from moto.stepfunctions.parser.asl.eval import variable_store as vs_mod
        from moto.stepfunctions.parser.asl.jsonata import jsonata as jmod

        evaluator = self.jsonata

        def eval_jsonata(expression: str) -> Any:
            try:
                return evaluator.evaluate(expression)
            except Exception as ex:  # the interpreter turns this into States.QueryEvaluationError
                raise jmod.JSONataException("UNKNOWN", str(ex)) from ex

        jmod._eval_jsonata = eval_jsonata
        # moto prepends JSONata stand-ins for Step Functions' functions ($parse as $eval, $hash and $uuid
        # returning "not supported" strings): the evaluator binds the real ones instead.
        string_expression.get_intrinsic_functions_declarations = lambda *_args, **_kwargs: ""
        for module in (jmod, states_mod, vs_mod):
            module.encode_jsonata_variable_declarations = evaluator.encode_declarations


RUNTIME = StepFunctionsRuntime()


def apply() -> None:
    RUNTIME.apply()
