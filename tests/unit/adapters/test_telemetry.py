"""The WebSocket functions' EMF metrics: errors by code as a dimension (issue 5 telemetry)."""

from __future__ import annotations

import json
import warnings

import pytest

from pairchat.adapters.telemetry import PowertoolsTelemetry, publish_metrics
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


def test_metrics_off_means_no_emf_on_any_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """POWERTOOLS_METRICS_DISABLED holds for the single-metric path (Errors by code) and for
    a batch that reaches Powertools' 100-value auto-flush, which both print regardless."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    telemetry = PowertoolsTelemetry(ws.metrics)
    assert not telemetry.enabled
    for _ in range(150):
        telemetry.count("Error_rate_limited")
        telemetry.count("Matches")
    assert emf_lines(capsys.readouterr().out) == []
    assert not ws.metrics.metric_set


def test_publish_metrics_is_quiet_without_metrics_and_flushes_with_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "pairchat")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    telemetry = PowertoolsTelemetry(ws.metrics)
    ws.metrics.clear_metrics()
    capsys.readouterr()

    @publish_metrics(ws.metrics)
    def quiet(event: dict[str, object], context: object) -> str:
        return "ok"

    @publish_metrics(ws.metrics)
    def counting(event: dict[str, object], context: object) -> str:
        telemetry.count("Matches")
        raise RuntimeError("the batch is flushed on a raise too")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No application metrics to publish" would raise
        assert quiet({}, None) == "ok"
    assert emf_lines(capsys.readouterr().out) == []
    with pytest.raises(RuntimeError):
        counting({}, None)
    lines = emf_lines(capsys.readouterr().out)
    assert [d.get("Matches") for d in lines] == [[1.0]]
    assert not ws.metrics.metric_set


def test_every_entry_point_publishes_through_publish_metrics() -> None:
    """A handler decorated with Metrics.log_metrics brings the test run's (and CloudWatch's)
    "No application metrics to publish" warning back."""
    from pathlib import Path

    import pairchat.handlers

    sources = sorted(Path(pairchat.handlers.__file__).parent.glob("*.py"))
    assert sources
    offenders = [p.name for p in sources if "log_metrics" in p.read_text()]
    assert offenders == []
