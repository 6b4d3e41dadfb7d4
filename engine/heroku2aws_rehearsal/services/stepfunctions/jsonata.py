"""JSONata as Step Functions evaluates it.

moto stubs JSONata out; we evaluate with ``jsonata-python`` (a port of the Java JSONata that LocalStack,
where moto's interpreter comes from, uses) and make its function library the one Step Functions offers:

- Step Functions adds ``$partition``, ``$range``, ``$hash``, ``$random`` (with an optional seed), ``$uuid``
  and ``$parse``, and does not support ``$eval`` ("use ``$parse`` instead"). Source: AWS Step Functions
  developer guide, "Transforming data with JSONata in Step Functions",
  https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html (section "JSONata functions
  provided by Step Functions" and the ``$eval`` note).
- String variables are passed to the expression as bindings, never as source: moto quotes them without
  escaping, so a quote or newline in a value broke the expression.
"""

from __future__ import annotations

import hashlib
import json
import random as _random
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonata

from heroku2aws_conformance import rules

#: ``$hash`` algorithms the guide lists.
HASH_ALGORITHMS: dict[str, str] = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                                   "SHA-512": "sha512"}


class StepFunctionsJsonataError(ValueError):
    """An argument error in one of Step Functions' own JSONata functions (a States.QueryEvaluationError)."""


def _partition(array: Any, size: Any) -> list:
    """``$partition([1,2,3,4,5], 2)`` -> ``[[1,2],[3,4],[5]]`` (States.ArrayPartition's JSONata form)."""
    if not isinstance(array, list):
        array = [array]
    if isinstance(size, bool) or not isinstance(size, int | float) or size != int(size) or size < 1:
        raise StepFunctionsJsonataError(f"$partition: the chunk size must be a positive integer, got {size!r}")
    size = int(size)
    return [array[i:i + size] for i in range(0, len(array), size)]


def _range(start: Any, end: Any, step: Any) -> list:
    """``$range(0, 10, 2)`` -> ``[0,2,4,6,8,10]``: the end is included, a negative step counts down
    (States.ArrayRange's JSONata form)."""
    for name, value in (("start", start), ("end", end), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise StepFunctionsJsonataError(f"$range: {name} must be an integer, got {value!r}")
    start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise StepFunctionsJsonataError("$range: step must not be 0")
    return list(range(start, end + (1 if step > 0 else -1), step))


def _hash(value: Any, algorithm: Any) -> str:
    """``$hash('text', 'SHA-256')`` -> hex digest (States.Hash's JSONata form)."""
    if algorithm not in HASH_ALGORITHMS:
        raise StepFunctionsJsonataError(f"$hash: algorithm must be one of {sorted(HASH_ALGORITHMS)}, got {algorithm!r}")
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return hashlib.new(HASH_ALGORITHMS[algorithm], text.encode()).hexdigest()


def _random_fn(seed: Any = None) -> float:
    """``$random()`` or ``$random(seed)``: a float in [0, 1), the same for the same seed."""
    if seed is None:
        return _random.random()
    return _random.Random(seed if isinstance(seed, int | float | str) else json.dumps(seed)).random()


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    """``$parse('{"a":1}')`` -> ``{"a": 1}``: deserialise a JSON string (what ``$eval`` was used for)."""
    if not isinstance(text, str):
        raise StepFunctionsJsonataError(f"$parse: expected a JSON string, got {type(text).__name__}")
    return json.loads(text)


def _eval_refused(*_args: Any) -> Any:
    raise StepFunctionsJsonataError("The function $eval is not supported by Step Functions: use $parse")


#: The functions Step Functions adds to JSONata, bound in every expression it evaluates.
STEP_FUNCTIONS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition, "range": _range, "hash": _hash, "random": _random_fn, "uuid": _uuid,
    "parse": _parse, "eval": _eval_refused,
}


# ------------------------------------------------------------------------------------- evaluation

# Variable declarations travel inside moto's JSONata strings (``($cfg:=<json>;...expr)``), and moto caches
# those strings. Parsing every variable's JSON as JSONata source on every evaluation was a quarter of the
# engine's CPU; so each declaration is written between separators JSON never contains (it escapes control
# characters), lifted back out with ``json.loads`` and passed to JSONata as bindings, and what remains (the
# expression itself) is compiled once per thread.
_DECL = re.compile("\x1e(\\$[^\x1f]*)\x1f(.*?)\x1e", re.S)


class Evaluator:
    """Compiles expressions once per thread (jsonata-python's compiled expressions are not thread-safe)."""

    def __init__(self, max_cached: int = 4096) -> None:
        self._local = threading.local()
        self._max_cached = max_cached

    @staticmethod
    def split_declarations(expression: str) -> tuple[str, dict[str, Any]]:
        if "\x1e" not in expression:
            return expression, {}
        bindings: dict[str, Any] = {}

        def lift(match: re.Match) -> str:  # one pass: a later declaration of the same name wins, as with :=
            bindings[match.group(1)[1:]] = json.loads(match.group(2))
            return ""

        return _DECL.sub(lift, expression), bindings

    @staticmethod
    def encode_declarations(bindings: dict[str, Any]) -> str:
        return "".join(f"\x1e{ref}\x1f{json.dumps(value, separators=(',', ':'), default=str)}\x1e"
                       for ref, value in bindings.items())

    def compile(self, expression: str) -> jsonata.Jsonata:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        compiled = cache.get(expression)
        if compiled is None:
            if len(cache) > self._max_cached:
                cache.clear()
            compiled = jsonata.Jsonata(expression)
            for name, fn in STEP_FUNCTIONS_FUNCTIONS.items():
                compiled.register_lambda(name, fn)
            cache[expression] = compiled
        return compiled

    def evaluate(self, expression: str) -> Any:
        body, bindings = self.split_declarations(expression)
        return plain(self.compile(body).evaluate(None, bindings or None))


def plain(value: Any) -> Any:
    """jsonata-python gives floats for whole numbers in places; JSON (and Wait.Seconds) wants ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------- static checks


def _nodes(node: Any, seen: set[int] | None = None) -> Iterator[Any]:
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, list | tuple):
        for item in node:
            yield from _nodes(item, seen)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _nodes(item, seen)
    elif hasattr(node, "type") and hasattr(node, "position"):
        yield node
        for key, value in vars(node).items():
            if key == "_outer_instance":
                continue
            if isinstance(value, list | tuple | dict) or hasattr(value, "position"):
                yield from _nodes(value, seen)


def check_expression(expression: str) -> list[str]:
    """Problems Step Functions' definition validator reports for one ``{% %}`` body: a syntax error, or a
    function it does not support. ``[]`` when the expression is fine."""
    try:
        ast = jsonata.Jsonata(expression).ast
    except Exception as exc:  # jsonata's JException: a syntax error
        return [f"the JSONata expression '{expression}' is not valid: {exc}"]
    # Called by name, or referenced without a call (``$f := $eval``): either way AWS refuses it.
    named = {n.value for n in _nodes(ast) if n.type == "variable" and n.value in rules.UNSUPPORTED_JSONATA_FUNCTIONS}
    used = sorted(named | set(rules.unsupported_jsonata_functions(expression)))
    return [f"the JSONata expression '{expression}' uses ${name}, which Step Functions does not support"
            + (" (use $parse)" if name == "eval" else "") for name in used]
