"""What the Lambda runtime does around a handler: import it from CodeUri, pass a context.

Both invokers (``invokers.ThreadInvoker`` in the gateway process, ``workers.worker_main`` in
each worker process) run handlers through :class:`HandlerHost`, so a handler sees the same
context and the same cold start whichever way it runs.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from importlib import import_module
from typing import Any

from pairchat_tools.local.template_wiring import AUTHORIZER_ROUTE, FunctionSpec, Wiring

log = logging.getLogger("pairchat_tools.local.lambda_runtime")

Handler = Callable[[dict[str, Any], Any], Any]

_rng = random.Random(os.urandom(32))


def new_uuid() -> str:
    """A uuid4 from a PRNG seeded once (see ``events.new_id`` for why not ``os.urandom``)."""
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


class LambdaContext:
    """What the Python Lambda runtime passes as ``context``."""

    __slots__ = (
        "_deadline",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(self, spec: FunctionSpec, region: str) -> None:
        name = f"pairchat-local-{spec.logical_id}"
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{name}"
        #: The runtime passes it as a string (from AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.aws_request_id = new_uuid()
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + new_uuid().replace("-", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerHost:
    """Loads the handlers template.yaml names and runs them like Lambda would."""

    def __init__(self, wiring: Wiring, region: str) -> None:
        self.region = region
        self.handlers: dict[str, tuple[FunctionSpec, Handler]] = {}
        for route, spec in wiring.invocables().items():
            self.handlers[route] = (spec, self._load(spec))
        self._cold = {spec.module for spec, _ in self.handlers.values()}
        self._cold_lock = threading.Lock()

    @staticmethod
    def _load(spec: FunctionSpec) -> Handler:
        code = str(spec.code_uri)
        if code not in sys.path:
            sys.path.insert(0, code)
        handler: Handler = getattr(import_module(spec.module), spec.attribute)
        return handler

    def call(self, route: str, event: dict[str, Any]) -> Any:
        """One invocation, in a pool thread. The first one per module runs alone: a cold
        start builds the module's clients once, as in a fresh Lambda container.

        An authorizer that fails is an answer, not a crash: API Gateway reads the function's
        error (``Unauthorized`` means 401), so its failure comes back as
        ``{"errorMessage": ..., "errorType": ...}``, Lambda's error response."""
        if route == AUTHORIZER_ROUTE:
            try:
                return self._call(route, event)
            except Exception as exc:
                if str(exc) != "Unauthorized":
                    log.exception("the $connect authorizer failed")
                return {"errorMessage": str(exc), "errorType": type(exc).__name__}
        return self._call(route, event)

    def _call(self, route: str, event: dict[str, Any]) -> Any:
        spec, handler = self.handlers[route]
        context = LambdaContext(spec, self.region)
        started = time.monotonic()
        if spec.module in self._cold:
            with self._cold_lock:
                result = handler(event, context)
                self._cold.discard(spec.module)
        else:
            result = handler(event, context)
        elapsed = time.monotonic() - started
        if elapsed > spec.timeout_s:
            log.warning(
                "%s took %.1f s; Lambda would have stopped it at %.0f s",
                spec.logical_id,
                elapsed,
                spec.timeout_s,
            )
        return result
