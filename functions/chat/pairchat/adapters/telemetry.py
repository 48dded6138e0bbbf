"""The domain's :class:`~pairchat.domain.service.Telemetry` as Powertools (CloudWatch EMF) metrics,
shared by every Lambda entry point.

Pools: every metric keeps its one ``service`` dimension (the dashboard and alarms read those
totals). Only :data:`POOL_METRICS`, the numbers that differ between a busy pool and a quiet
one, are also emitted with a ``pool`` dimension, and only when more than one pool is
configured. Each (metric, pool) pair is a custom metric CloudWatch bills monthly, so per-pool
copies of every metric would cost ~15 x pools metrics; three keep it at 3 x pools (at most
``MAX_POOLS``). The rest of the per-pool picture comes from the ops API (``/stats?pool=``).

Two Powertools behaviours are worked around here, both seen in ``pairchat dev``'s output:

* ``single_metric`` prints its EMF line whatever ``POWERTOOLS_METRICS_DISABLED`` says, and a
  metric batch that reaches 100 values is printed by ``add_metric`` itself, disabled or not (a
  disabled ``flush_metrics`` never clears the batch, so it always gets there). So with metrics
  off the adapter records nothing at all: the switch holds on every path.
* ``Metrics.log_metrics`` warns "No application metrics to publish" after every invocation
  that recorded nothing (a heartbeat, or any invocation with metrics off). :func:`publish_metrics`
  flushes only when there is something to publish, and is otherwise the same decorator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

#: Emitted per pool as well: demand, success, and how long a user of that pool waits.
POOL_METRICS = frozenset({"Joins", "Matches", "WaitBeforeMatch"})

Handler = TypeVar("Handler", bound=Callable[..., Any])


class PowertoolsTelemetry:
    def __init__(
        self, metrics: Metrics, pool: str | None = None, enabled: bool | None = None
    ) -> None:
        self._metrics = metrics
        #: None: a single-pool deployment, no pool dimension at all.
        self.pool = pool
        #: Powertools' own switch (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV), read once.
        self.enabled = (not is_metrics_disabled()) if enabled is None else enabled

    def _single(
        self, name: str, unit: MetricUnit, value: float, dimension: str, label: str
    ) -> None:
        with single_metric(
            name=name,
            unit=unit,
            value=value,
            namespace=self._metrics.namespace,
            default_dimensions=self._metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name=dimension, value=label)

    def count(self, name: str, value: float = 1) -> None:
        if not self.enabled:
            return
        if name.startswith("Error_"):
            # One "Errors" metric with the code as a dimension: one dashboard search graphs
            # every code, and a new code needs no new widget.
            self._single("Errors", MetricUnit.Count, value, "code", name.removeprefix("Error_"))
            return
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if self.pool is not None and name in POOL_METRICS:
            self._single(name, MetricUnit.Count, value, "pool", self.pool)

    def timing(self, name: str, milliseconds: float) -> None:
        if not self.enabled:
            return
        self._metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=milliseconds)
        if self.pool is not None and name in POOL_METRICS:
            self._single(name, MetricUnit.Milliseconds, milliseconds, "pool", self.pool)


def publish_metrics(metrics: Metrics) -> Callable[[Handler], Handler]:
    """``@metrics.log_metrics`` without the warning for an invocation that recorded nothing:
    the batch is flushed (one EMF line) after the handler, raise or return, when it has metrics."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            finally:
                if metrics.metric_set:
                    metrics.flush_metrics()

        return wrapper  # type: ignore[return-value]

    return decorate
