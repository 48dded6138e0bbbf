"""pairchat dev's reading of a REQUEST authorizer's answer, as API Gateway reads it, and the
wiring that finds the authorizer in template.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pairchat_tools.local.authorizer import decide, identity_missing, method_arn
from pairchat_tools.local.template_wiring import (
    AUTHORIZER_ROUTE,
    AuthorizerSpec,
    WiringError,
    read_wiring,
)

ROOT = Path(__file__).resolve().parents[3]
ARN = method_arn("us-east-1", "abc123", "prod")


def policy(effect: str = "Allow", resource: Any = ARN, **extra: Any) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {"principalId": "p", "policyDocument": {"Statement": [statement]}, **extra}


def test_allow_passes_the_context_with_principal_and_latency() -> None:
    d = decide(policy(context={"userId": "u", "pool": "es"}), ARN, 12)
    assert d.status == 200
    assert d.context == {"userId": "u", "pool": "es", "principalId": "p", "integrationLatency": 12}


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (policy("Deny"), 403),
        (policy(resource="arn:aws:execute-api:us-east-1:000000000000:other/prod/$connect"), 403),
        (policy(resource=[ARN]) | {"policyDocument": {"Statement": []}}, 403),
        ({"errorMessage": "Unauthorized", "errorType": "Exception"}, 401),
        ({"errorMessage": "boom", "errorType": "RuntimeError"}, 500),
        (policy(context={"nested": {"a": 1}}), 500),
        ({"policyDocument": policy()["policyDocument"]}, 500),  # no principalId
        ("not a dict", 500),
    ],
)
def test_refusals(answer: Any, status: int) -> None:
    assert decide(answer, ARN, 1).status == status


def test_wildcards_and_a_deny_beside_an_allow() -> None:
    star = "arn:aws:execute-api:us-east-1:000000000000:abc123/*"
    assert decide(policy(resource=star), ARN, 1).status == 200
    both = policy()
    both["policyDocument"]["Statement"].append(
        {"Action": "execute-api:*", "Effect": "Deny", "Resource": "*"}
    )
    assert decide(both, ARN, 1).status == 403  # an explicit Deny wins


def test_identity_sources_must_be_present_and_non_empty() -> None:
    spec = AuthorizerSpec("A", None, (("querystring", "token"), ("header", "X-Key")))  # type: ignore[arg-type]
    ok = {"queryStringParameters": {"token": "t"}, "headers": {"x-key": "k"}}
    assert not identity_missing(spec, ok)
    assert identity_missing(
        spec, {"queryStringParameters": {"token": ""}, "headers": ok["headers"]}
    )
    assert identity_missing(spec, {"queryStringParameters": {"token": "t"}, "headers": {}})


def test_the_product_template_wires_its_authorizer() -> None:
    wiring = read_wiring(ROOT / "template.yaml")
    assert wiring.authorizer is not None
    assert wiring.authorizer.function.handler == "pairchat.handlers.authorizer.handler"
    assert wiring.invocables()[AUTHORIZER_ROUTE] is wiring.authorizer.function
    assert "AuthorizerFunction" in {f.logical_id for f in wiring.functions()}


def test_an_authorizer_the_emulator_cannot_run_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "tests/e2e/lambda_src/template.yaml").read_text()
    for old, new in (
        ("AuthorizerType: REQUEST", "AuthorizerType: JWT"),
        ("AuthorizerId: !Ref ConnectAuth", "AuthorizerId: !Ref Api"),
    ):
        bad = tmp_path / "template.yaml"
        bad.write_text(text.replace(old, new))
        with pytest.raises(WiringError):
            read_wiring(bad)
