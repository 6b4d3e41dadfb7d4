"""A Lambda sandbox stand-in: loads one handler and serves invocations over stdin/stdout.

Started by the engine with the function's own environment and ``PYTHONPATH`` (its code directory
and its layers). One JSON line in (``{"event", "request_id"}``), one JSON line out. Whatever the
handler prints goes to stderr (the function's log), never into the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback


class LambdaContext:
    def __init__(self, request_id: str, timeout_s: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("H2A_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException) -> dict:
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__)}


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    timeout = float(os.environ.get("H2A_FUNCTION_TIMEOUT", "30"))
    module_name, _, func_name = os.environ["_HANDLER"].rpartition(".")
    handler = None
    init_error = None
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
    except Exception as exc:  # Lambda reports an init failure on every invoke
        init_error = {"errorType": "Runtime.ImportModuleError",
                      "errorMessage": f"Unable to import module '{module_name}': {exc}", "stackTrace": []}
    for line in sys.stdin:
        request = json.loads(line)
        if init_error:
            out = {"ok": False, "error": init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request["request_id"], timeout))
                out = {"ok": True, "result": result}
            except Exception as exc:
                out = {"ok": False, "error": _error(exc)}
        try:
            protocol.write(json.dumps(out, default=str) + "\n")
        except (TypeError, ValueError) as exc:
            protocol.write(json.dumps({"ok": False, "error": {
                "errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {exc}"}}) + "\n")


if __name__ == "__main__":
    main()
