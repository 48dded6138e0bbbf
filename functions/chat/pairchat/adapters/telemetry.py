"""The domain's :class:`~pairchat.domain.service.Telemetry` as Powertools (CloudWatch EMF) metrics,
shared by every Lambda entry point."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric


class PowertoolsTelemetry:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        if name.startswith("Error_"):
            # One "Errors" metric with the code as a dimension: one dashboard search graphs
            # every code, and a new code needs no new widget.
            with single_metric(
                name="Errors",
                unit=MetricUnit.Count,
                value=value,
                namespace=self._metrics.namespace,
                default_dimensions=self._metrics.default_dimensions,
            ) as metric:
                metric.add_dimension(name="code", value=name.removeprefix("Error_"))
            return
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def timing(self, name: str, milliseconds: float) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=milliseconds)
