"""The WebSocket functions' EMF metrics: errors by code as a dimension (issue 5 telemetry)."""

from __future__ import annotations

import json

import pytest

from pairchat.adapters.telemetry import PowertoolsTelemetry
from pairchat.handlers import ws


def emf_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def test_error_counts_become_one_metric_with_a_code_dimension(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "pairchat")  # as the template sets it
    capsys.readouterr()
    telemetry = PowertoolsTelemetry(ws.metrics)
    telemetry.count("Error_invalid_json")
    telemetry.count("Matches")
    telemetry.timing("WaitBeforeMatch", 1234.0)
    ws.metrics.flush_metrics()
    lines = emf_lines(capsys.readouterr().out)
    errors = [d for d in lines if "Errors" in d]
    assert len(errors) == 1
    spec = errors[0]["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
    assert ["code", "service"] in [sorted(d) for d in spec["Dimensions"]]
    assert errors[0]["code"] == "invalid_json"
    assert not any("Error_invalid_json" in d for d in lines)
    batch = next(d for d in lines if "Matches" in d)
    names = {m["Name"]: m["Unit"] for m in batch["_aws"]["CloudWatchMetrics"][0]["Metrics"]}  # type: ignore[index]
    assert names == {"Matches": "Count", "WaitBeforeMatch": "Milliseconds"}


def test_only_the_pool_metrics_get_a_pool_dimension(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every metric keeps its service-only series (dashboard, alarms); Joins, Matches and
    WaitBeforeMatch are also emitted per pool, and nothing is when there is one pool."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "pairchat")
    capsys.readouterr()
    pooled = PowertoolsTelemetry(ws.metrics, "es")
    pooled.count("Matches")
    pooled.count("Messages")
    pooled.timing("WaitBeforeMatch", 50.0)
    PowertoolsTelemetry(ws.metrics).count("Joins")  # single pool: no pool dimension
    ws.metrics.flush_metrics()
    lines = emf_lines(capsys.readouterr().out)
    per_pool = [d for d in lines if d.get("pool") == "es"]
    names = sorted(
        m["Name"] for d in per_pool for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    )  # type: ignore[index]
    assert names == ["Matches", "WaitBeforeMatch"]
    for d in per_pool:
        assert ["pool", "service"] in [
            sorted(x) for x in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        ]  # type: ignore[index]
    batch = next(d for d in lines if "Messages" in d)
    assert "pool" not in batch
    total = {m["Name"] for m in batch["_aws"]["CloudWatchMetrics"][0]["Metrics"]}  # type: ignore[index]
    assert total == {"Matches", "Messages", "WaitBeforeMatch", "Joins"}
