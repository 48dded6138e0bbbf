"""The hand-rolled SigV4 signer of SignedHttpNotifier agrees with botocore's own."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from pairchat.adapters.management import Credentials, sigv4_headers

NOW = datetime.datetime(2026, 11, 25, 18, 30, 5, tzinfo=datetime.UTC)


def botocore_headers(
    host: str, path: str, body: bytes, creds: Credentials, region: str
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=f"https://{host}{path}", data=body)
    boto = BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(boto, "execute-api", region).add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH"])
@pytest.mark.parametrize("connection_id", ["Abc123=", "L2+/x=", "plain", "a b~c", "ünï"])
def test_signature_matches_botocore(token: str | None, connection_id: str) -> None:
    from urllib.parse import quote

    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    host = "abcdef1234.execute-api.eu-west-1.amazonaws.com"
    path = f"/prod/@connections/{quote(connection_id, safe='')}"
    body = b'{"type":"matched","id":"00ff","roomId":"r"}'
    ours = sigv4_headers("POST", host, path, body, "eu-west-1", "execute-api", creds, NOW)
    theirs = botocore_headers(host, path, body, creds, "eu-west-1")
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"] == "20261125T183005Z"
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token")


def test_a_different_body_or_key_changes_the_signature() -> None:
    creds = Credentials("AKIDEXAMPLE", "secret")
    args = ("POST", "h.example", "/dev/@connections/x", b"a", "us-east-1", "execute-api")
    base = sigv4_headers(*args, creds, NOW)["authorization"]
    assert sigv4_headers(*args[:3], b"b", *args[4:], creds, NOW)["authorization"] != base
    other = Credentials("AKIDEXAMPLE", "other")
    assert sigv4_headers(*args, other, NOW)["authorization"] != base
    assert "secret" not in repr(creds)


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH"])
def test_signed_extra_headers_match_botocore_for_dynamodb(token: str | None) -> None:
    """The report store's PutItem/Query requests sign DynamoDB's target and content type."""
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    host, body = "dynamodb.eu-west-1.amazonaws.com", b'{"TableName":"t","Item":{}}'
    extra = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.PutItem",
    }
    ours = sigv4_headers("POST", host, "/", body, "eu-west-1", "dynamodb", creds, NOW, extra)
    request = AWSRequest(method="POST", url=f"https://{host}/", data=body, headers=dict(extra))
    boto = BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(boto, "dynamodb", "eu-west-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert "x-amz-target" in ours["authorization"] and ours["x-amz-target"] == extra["x-amz-target"]
