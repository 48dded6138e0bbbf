"""The operations block of template.yaml: never open, wired to the code, alarms in place."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pairchat_tools import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
MARKER = "# --- Operations (issue 5) ---"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(TEMPLATE)


def test_ops_api_requires_iam_by_default(template: dict[str, Any]) -> None:
    api = template["Resources"]["OpsHttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    auth = api["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "AWS_IAM" and auth["EnableIamAuthorizer"] is True


def test_every_ops_route_carries_the_authorizer(template: dict[str, Any]) -> None:
    routes = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            assert "FunctionUrlConfig" not in props, f"{name} has an open function URL"
            for event_name, event in (props.get("Events") or {}).items():
                if event["Type"] in ("HttpApi", "Api"):
                    assert event["Properties"].get("ApiId") == {"Ref": "OpsHttpApi"}, event_name
                    assert event["Properties"]["Auth"]["Authorizer"] == "AWS_IAM", event_name
                    routes.append(
                        (name, event["Properties"]["Path"], event["Properties"]["Method"])
                    )
        if resource["Type"] == "AWS::ApiGatewayV2::Route":
            api = resource["Properties"]["ApiId"]
            assert api != {"Ref": "OpsHttpApi"}, f"{name}: ops routes are declared as events"
    # Reads, and one write: lifting a shadow flag.
    assert sorted(routes) == [
        ("OpsFunction", "/", "GET"),
        ("OpsFunction", "/shadow/{user_id}", "DELETE"),
        ("OpsFunction", "/{proxy+}", "GET"),
    ]


def test_functions_point_at_the_ops_entry_points(template: dict[str, Any]) -> None:
    from pairchat.handlers import sweeper
    from pairchat_ops import lambda_handler

    res = template["Resources"]
    assert res["OpsFunction"]["Properties"]["Handler"] == "pairchat_ops.lambda_handler.handler"
    assert callable(lambda_handler.handler)
    assert res["SweeperFunction"]["Properties"]["Handler"] == "pairchat.handlers.sweeper.handler"
    assert callable(sweeper.handler)
    (schedule,) = res["SweeperFunction"]["Properties"]["Events"].values()
    assert schedule["Type"] == "Schedule"
    assert re.fullmatch(r"rate\(\d+ minutes?\)", schedule["Properties"]["Schedule"])
    # It posts partner_left to survivors of reaped rooms.
    assert {"Ref": "ManageConnectionsPolicy"} in res["SweeperFunction"]["Properties"]["Policies"]


def test_ops_layer_carries_the_ops_extra(template: dict[str, Any]) -> None:
    layer = template["Resources"]["OpsDependenciesLayer"]["Properties"]
    assert {"Ref": "OpsDependenciesLayer"} in template["Resources"]["OpsFunction"]["Properties"][
        "Layers"
    ]
    wanted = (ROOT / layer["ContentUri"] / "requirements.txt").read_text()
    names = {re.split(r"[<>=\[]", line)[0] for line in wanted.splitlines() if line[:1].isalpha()}
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["ops"]
    assert {"fastapi", "mangum"} <= names <= {re.split(r"[<>=\[]", d)[0] for d in extra}


def test_alarms_cover_lambda_cache_and_management_api(template: dict[str, Any]) -> None:
    alarms = {
        n: r["Properties"]
        for n, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched = set()
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}]
        if "MetricName" in props:
            watched.add((props["Namespace"], props["MetricName"]))
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                watched.add((metric["Namespace"], metric["MetricName"]))
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ElastiCache", "ElastiCacheProcessingUnits"),
        ("AWS/ElastiCache", "BytesUsedForCache"),
        ("pairchat", "ManagementApiErrors"),
    } <= watched


def test_dashboard_graphs_only_metrics_the_code_emits(template: dict[str, Any]) -> None:
    body = template["Resources"]["OpsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "1", body))
    code = "\n".join(
        p.read_text() for p in (ROOT / "functions" / "chat" / "pairchat").rglob("*.py")
    )
    names = set()
    for widget in dashboard["widgets"]:
        previous: list[Any] = []
        for row in widget["properties"]["metrics"]:
            row = [r for r in row if not isinstance(r, dict)]
            if row and row[0] == "...":
                row = previous[: len(previous) - len(row) + 1] + row[1:]
            row = [previous[i] if v == "." else v for i, v in enumerate(row)]
            previous = row
            if row and row[0] == "pairchat":
                names.add(row[1])
    assert {"Joins", "Matches", "WaitBeforeMatch", "GoneConnections", "SweptQueueEntries"} <= names
    for name in names:
        assert f'"{name}"' in code, f"the dashboard graphs {name}, which no code emits"
    assert 'MetricName=\\"Errors\\"' in body and '"Errors"' in code


def test_the_operations_block_is_one_contiguous_block() -> None:
    text = TEMPLATE.read_text()
    assert text.count(MARKER) == 1
    resources = text.split("\nResources:\n", 1)[1].split("\nOutputs:\n", 1)[0]
    block = resources.split(MARKER, 1)[1]
    before = resources.split(MARKER, 1)[0]
    for name in ("OpsHttpApi", "OpsFunction", "SweeperFunction", "OpsDashboard", "OpsAlarmTopic"):
        assert f"\n  {name}:\n" in block and f"\n  {name}:\n" not in before
