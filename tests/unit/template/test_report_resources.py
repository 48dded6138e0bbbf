"""template.yaml's reports table (issue 13, item 5): durable, encrypted, with a TTL, and
reachable only as each function needs it (the chat and sweeper functions PutItem, the ops
function Query), wired to the settings the code reads."""

from __future__ import annotations

from typing import Any

import pytest

from pairchat.settings import Settings
from pairchat_tools import cfn_yaml
from tests.unit.template.test_ops_resources import TEMPLATE


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(TEMPLATE)


def statements(policy: Any, resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The IAM statements of one entry of a function's Policies."""
    if isinstance(policy, dict) and set(policy) == {"Ref"}:
        document = resources[policy["Ref"]]["Properties"]["PolicyDocument"]
        return list(document["Statement"])
    if isinstance(policy, dict) and "Statement" in policy:
        return list(policy["Statement"])
    return []


def dynamodb_actions(template: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """Per function: (action, resource) of every dynamodb:* it is allowed."""
    res = template["Resources"]
    out: dict[str, set[tuple[str, str]]] = {}
    for name, resource in res.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies") or []:
            for st in statements(policy, res):
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                for action in actions:
                    if action.startswith("dynamodb"):
                        out.setdefault(name, set()).add((action, str(st["Resource"])))
    return out


def test_the_table_is_durable_encrypted_and_expires_items(template: dict[str, Any]) -> None:
    table = template["Resources"]["ReportsTable"]
    props = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    sse = props["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
    assert sse["KMSMasterKeyId"] == {"Ref": "DataKey"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    # The adapter's item shape (pairchat/adapters/reports_table.py): pk the pool, sk the id.
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["UpdateReplacePolicy"] == "Retain"


def test_each_function_may_do_only_what_it_needs_with_the_table(
    template: dict[str, Any],
) -> None:
    table = str({"Fn::GetAtt": ["ReportsTable", "Arn"]})
    assert dynamodb_actions(template) == {
        "MessageFunction": {("dynamodb:PutItem", table)},
        "SweeperFunction": {("dynamodb:PutItem", table)},
        "OpsFunction": {("dynamodb:Query", table)},
    }


def test_the_key_is_usable_only_through_dynamodb_for_the_table(template: dict[str, Any]) -> None:
    res = template["Resources"]
    for name in ("MessageFunction", "SweeperFunction", "OpsFunction"):
        kms = [
            st
            for policy in res[name]["Properties"]["Policies"]
            for st in statements(policy, res)
            if any(
                str(a).startswith("kms:")
                for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
            )
            and "Condition" in st
        ]
        assert kms, name
        for st in kms:
            assert st["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
            assert st["Condition"]["StringEquals"]["kms:ViaService"] == {
                "Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"
            }


def test_the_settings_come_from_parameters_whose_defaults_are_the_codes(
    template: dict[str, Any],
) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    params = template["Parameters"]
    assert env["REPORTS_TABLE"] == {"Ref": "ReportsTable"}
    defaults = Settings()
    pairs = {
        "REPORTS_PER_USER_PER_HOUR": ("ReportsPerUserPerHour", defaults.reports_per_user_hour),
        "REPORTS_PER_SOURCE_PER_HOUR": (
            "ReportsPerSourcePerHour",
            defaults.reports_per_source_hour,
        ),
        "REPORT_MIN_ROOM_AGE_SECONDS": (
            "ReportMinRoomAgeSeconds",
            defaults.report_min_room_age_s,
        ),
        "SHADOW_REPORTERS": ("ShadowReporters", defaults.shadow_reporters),
        "SHADOW_WINDOW_SECONDS": ("ShadowWindowSeconds", defaults.shadow_window_s),
        "SHADOW_COOLDOWN_SECONDS": ("ShadowCooldownSeconds", defaults.shadow_cooldown_s),
        "REPORTS_RETENTION_DAYS": ("ReportRetentionDays", defaults.reports_retention_days),
    }
    for variable, (parameter, default) in pairs.items():
        assert env[variable] == {"Ref": parameter}, variable
        assert int(params[parameter]["Default"]) == default, parameter
    # The template's bounds keep the code's rule: the minimum age within RECENT_TTL_SECONDS.
    assert params["ReportMinRoomAgeSeconds"]["MaxValue"] <= 60
    Settings.from_env({"REPORT_MIN_ROOM_AGE_SECONDS": "60"})  # the default recent TTL: 600
