"""The payload quota: 256 KiB a state's input, output or task result, and a terminal error no ``States.ALL`` catches.

Sources: AWS Step Functions developer guide, "Step Functions service quotas",
https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html ("Maximum input or output size for a
task, activity, or state: 256 KiB of data as a UTF-8 encoded string", which covers "input data when scheduling a
task, entering a state, or starting an execution"; the API reference caps ``StateEnteredEventDetails.input`` and
``TaskScheduledEventDetails.parameters`` at 262,144 bytes); "Handling errors in Step Functions workflows",
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html: ``States.DataLimitExceeded``
is reported "when the output of a connector is larger than payload size quota; when the output of a state is
larger than payload size quota; when, after Parameters processing, the input of a state is larger than the
payload size quota", and "``States.ALL`` ... can't catch the ``States.DataLimitExceeded`` terminal error".

moto (5.2.5) checks a task's result and a state's output, but not a task's input after its ``Arguments`` (a
Lambda ``Payload`` of 1 MB was invoked), and its ``States.ALL`` caught the terminal error: a rehearsal rolled back
where AWS would have ended the execution with nothing undone. Both are fixed here. The guide calls the error terminal;
the emulation takes the strict reading: no Retry and no Catch matches it, whatever its ``ErrorEquals`` names.
"""

from __future__ import annotations

from typing import Any

MAX_PAYLOAD_BYTES = 256 * 1024
ERROR = "States.DataLimitExceeded"


def payload_bytes(value: Any) -> int:
    """Bytes of ``value`` as Step Functions counts them: its JSON text, UTF-8 encoded."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    text = value if isinstance(value, str) else to_json_str(value, separators=(",", ":"))
    return len(text.encode("utf-8"))


def apply() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl as eq_mod
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task as task_mod
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda as lambda_mod
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    data_limit = StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded)

    def checked(original):
        def _eval_parameters(self, env) -> dict:
            parameters = original(self, env)
            value = parameters.get("Payload") if type(self).__name__ == "StateTaskLambda" else parameters
            size = payload_bytes(value)
            if size > MAX_PAYLOAD_BYTES:
                cause = (f"The state '{self.name}' has an input of {size} bytes after its Arguments were evaluated, "
                         f"over the {MAX_PAYLOAD_BYTES}-byte payload quota.")
                raise FailureEventException(failure_event=FailureEvent(
                    env=env, error_name=data_limit, event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(error=ERROR, cause=cause))))
            return parameters
        return _eval_parameters

    task_mod.StateTask._eval_parameters = checked(task_mod.StateTask._eval_parameters)
    lambda_mod.StateTaskLambda._eval_parameters = checked(lambda_mod.StateTaskLambda._eval_parameters)

    decl = eq_mod.ErrorEqualsDecl
    original_eval = decl._eval_body

    def _eval_body(self, env) -> None:
        error_name = env.stack[-1]
        if getattr(error_name, "error_name", None) == ERROR:
            env.stack.pop()
            env.stack.append(False)  # the terminal error: no retrier or catcher matches it
            return
        original_eval(self, env)

    decl._eval_body = _eval_body
