"""Lambda entry point of the scheduled sweeper (``pairchat.handlers.sweeper.handler``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from pairchat.adapters.telemetry import PowertoolsTelemetry, publish_metrics
from pairchat.bootstrap import sweeper_from_settings
from pairchat.domain.sweeper import PoolSweeper
from pairchat.settings import Settings

logger = Logger()
metrics = Metrics()

_sweeper: PoolSweeper | None = None


def sweeper() -> PoolSweeper:
    """Created on the first invocation of a container and kept for the next ones."""
    global _sweeper
    if _sweeper is None:
        _sweeper = sweeper_from_settings(Settings.from_env(), PowertoolsTelemetry(metrics))
    return _sweeper


@publish_metrics(metrics)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweeper().run().as_dict()
    logger.info("swept", extra=result)
    return result
