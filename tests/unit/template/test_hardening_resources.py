"""template.yaml carries what the hardening needs: the report and block routes, the identity
and abuse settings as environment, and logs that never hold a token or message text."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from pairchat.settings import Settings
from pairchat_tools.local.template_wiring import load_template, references

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def _template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def test_report_and_block_routes_reach_the_message_function() -> None:
    resources = _template()["Resources"]
    routes = {
        r["Properties"]["RouteKey"]: r for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }  # fmt: skip
    for key in ("report", "block"):
        target = routes[key]["Properties"]["Target"]
        assert "MessageIntegration" in set(references(target))
    depends = resources["Stage"]["DependsOn"]
    assert "ReportRoute" in depends and "BlockRoute" in depends


def test_identity_and_abuse_settings_are_environment_that_settings_reads() -> None:
    env = _template()["Globals"]["Function"]["Environment"]["Variables"]
    source = inspect.getsource(Settings.from_env)
    for name in (
        "AUTH_MODE",
        "AUTH_SECRET_PARAMETER",
        "AUTH_JWKS_URL",
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "ALLOWED_ORIGINS",
        "RATE_WINDOW_SECONDS",
        "RATE_JOINS_PER_WINDOW",
        "RATE_MESSAGES_PER_WINDOW",
        "RECONNECT_GRACE_SECONDS",
    ):
        assert name in env, name
        assert f'"{name}"' in source, name
    assert "AUTH_SECRET" not in env  # the secret itself never goes in a template


def test_logs_never_hold_tokens_or_text() -> None:
    t = _template()
    env = t["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    stage = t["Resources"]["Stage"]["Properties"]
    assert stage["DefaultRouteSettings"]["DataTraceEnabled"] is False
    fmt = stage["AccessLogSettings"]["Format"].lower()
    for leak in ("querystring", "body", "header", "token", "authorizer"):
        assert leak not in fmt, leak
