"""What the domain needs from the outside world, as protocols the domain owns.

The adapters in :mod:`pairchat.adapters` implement them against AWS; tests hand in their own
(a recording notifier, :class:`NullTelemetry`) without patching anything.
"""

from __future__ import annotations

from typing import Any, Protocol

from pairchat.domain.reports import ReportRecord


class Notifier(Protocol):
    """Pushes a frame to a connection: True when delivered, False when the connection is
    gone (a 410). Anything else that fails after bounded retries raises
    :class:`DeliveryFailed`."""

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool: ...


class DeliveryFailed(RuntimeError):
    """The Management API failed for a reason other than a gone connection."""


class ReportSink(Protocol):
    """The durable report store (a DynamoDB table in AWS; ``pairchat dev`` serves a local
    equivalent). ``put`` is idempotent per report id. Raises :class:`ReportNotStored` when
    the write failed after its bounded retries."""

    def put(self, report: ReportRecord) -> None: ...


class ReportNotStored(RuntimeError):
    """The report store refused or could not be reached (after bounded retries)."""


class Telemetry(Protocol):
    """Counters and timings; the Lambda adapter maps them to CloudWatch EMF metrics."""

    def count(self, name: str, value: float = 1) -> None: ...

    def timing(self, name: str, milliseconds: float) -> None: ...


class NullTelemetry:
    """Telemetry that records nothing (tests, the CLI)."""

    def count(self, name: str, value: float = 1) -> None:
        pass

    def timing(self, name: str, milliseconds: float) -> None:
        pass
