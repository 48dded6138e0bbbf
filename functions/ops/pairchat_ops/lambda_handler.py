"""Lambda entry point of the ops HTTP API (``pairchat_ops.lambda_handler.handler``)."""

from __future__ import annotations

from mangum import Mangum

from pairchat_ops.api import app

#: No lifespan: the app has no startup work; clients are created on first use per container.
handler = Mangum(app, lifespan="off")
