"""The local stack's pure parts: template wiring, handler environment, bots statistics."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from pairchat.settings import Settings
from pairchat_tools.bots import Stats, _Receipt, percentile
from pairchat_tools.local.dev import handler_environment, redact
from pairchat_tools.local.template_wiring import (
    WiringError,
    default_template,
    load_template,
    read_wiring,
    references,
)
from tests.support import EVENTS_DIR


def route_keys_in(text: str) -> set[str]:
    return set(re.findall(r"^\s+RouteKey:\s*(\S+)\s*$", text, re.MULTILINE))


def test_wiring_follows_template_yaml() -> None:
    template = default_template()
    wiring = read_wiring(template)
    assert set(wiring.routes) == route_keys_in(template.read_text())
    assert {"$connect", "$disconnect", "$default", "join", "send"} <= set(wiring.routes)
    assert wiring.selection_path == ("action",)
    assert wiring.stage == load_template(template)["Parameters"]["StageName"]["Default"]
    for route, spec in wiring.routes.items():
        handler = getattr(importlib.import_module(spec.module), spec.attribute)
        assert callable(handler), route
        assert spec.code_uri == (template.parent / "functions" / "chat").resolve()
        assert spec.timeout_s > 0
    assert wiring.routes["$connect"].handler == "pairchat.handlers.ws.on_connect"
    assert wiring.routes["join"] is wiring.routes["send"]  # one function for message routes


def test_handler_environment_is_the_templates_plus_the_local_stack() -> None:
    wiring = read_wiring(default_template())
    template_env, conflicts = wiring.environment()
    assert not conflicts
    assert template_env["REDIS_URL"] is None  # a deploy-time value (the cache endpoint)
    assert template_env["KEY_PREFIX"] == "{pairchat}:"
    env, missing = handler_environment(
        wiring,
        "redis://127.0.0.1:7000/0",
        "http://127.0.0.1:3001",
        concurrency=24,
        region="eu-west-1",
        log_level="warning",
        metrics=False,
        extra={"RATE_JOINS_PER_WINDOW": "0"},
    )
    assert missing == []
    assert env["REDIS_URL"] == "redis://127.0.0.1:7000/0"
    assert env["REDIS_CLUSTER"] == "false"
    assert env["POWERTOOLS_LOG_LEVEL"] == "WARNING"
    settings = Settings.from_env(env)
    assert settings.management_endpoint == "http://127.0.0.1:3001"
    assert settings.management_max_pool_connections == 24
    assert settings.redis_cluster is False
    assert settings.aws_region == "eu-west-1"
    assert settings.rate_joins == 0
    assert settings.key_prefix == "{pairchat}:"


def test_references_follow_short_and_long_intrinsics(tmp_path: Path) -> None:
    doc = tmp_path / "t.yaml"
    doc.write_text(
        "A: !Sub 'x/${One}/${Two.Arn}/${!Literal}'\n"
        "B: {'Fn::Join': ['/', [integrations, {Ref: Three}]]}\n"
        "C: !GetAtt Four.Arn\n"
        "D: {'Fn::GetAtt': [Five, Arn]}\n"
    )
    data = load_template(doc)
    assert list(references(data["A"])) == ["One", "Two"]
    assert list(references(data["B"])) == ["Three"]
    assert list(references(data["C"])) == ["Four"]
    assert list(references(data["D"])) == ["Five"]


def test_a_template_without_a_websocket_api_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "t.yaml"
    doc.write_text("Resources:\n  Q: {Type: AWS::SQS::Queue}\n")
    with pytest.raises(WiringError, match="WEBSOCKET"):
        read_wiring(doc)
    doc.write_text(
        "Resources:\n  Api:\n    Type: AWS::ApiGatewayV2::Api\n    Properties:\n"
        "      ProtocolType: WEBSOCKET\n      RouteSelectionExpression: $request.header.x\n"
    )
    with pytest.raises(WiringError, match="RouteSelectionExpression"):
        read_wiring(doc)


def test_sam_env_vars_file_names_only_declared_variables() -> None:
    """`sam local invoke --env-vars` silently ignores a name the template does not declare."""
    wiring = read_wiring(default_template())
    declared, _ = wiring.environment()
    env_vars = json.loads((EVENTS_DIR / "env.json").read_text())
    functions = {spec.logical_id for spec in wiring.functions()}
    for scope, variables in env_vars.items():
        assert scope == "Parameters" or scope in functions, scope
        assert set(variables) <= set(declared), set(variables) - set(declared)
    assert env_vars["Parameters"]["REDIS_CLUSTER"] == "false"


def test_redact_hides_redis_passwords() -> None:
    assert redact("redis://:s3cret@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("rediss://user:s3cret@h:6379") == "rediss://user:***@h:6379"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([3.0], 90) == 3.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_bots_check_every_pair() -> None:
    stats = Stats()
    stats.matched("r1", _Receipt(1, "male", "female", 0.0, 0.010), waited=True)
    stats.matched("r1", _Receipt(2, "female", "any", 0.005, 0.008), waited=False)
    assert stats.matches == 1 and not stats.failed
    # Pair latency: from the later join (0.005) until both were told (0.010).
    assert stats.pair_ms == [pytest.approx(5.0)]
    assert stats.wait_ms == [pytest.approx(10.0)]
    stats.matched("r2", _Receipt(3, "male", "male", 0.0, 0.001), waited=False)
    stats.matched("r2", _Receipt(4, "female", "male", 0.0, 0.001), waited=False)
    assert stats.incompatible_pairs == 1
    stats.matched("r3", _Receipt(1, "male", "female", 0.0, 0.001), waited=False)
    assert stats.double_matches == 1  # bot 1 never left r1
    assert stats.failed
