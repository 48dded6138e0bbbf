"""`pairchat dev`'s DynamoDB-compatible endpoint (the report store without AWS) answers what
pairchat's adapter and boto3 ask as moto's DynamoDB does: the same scenario runs against both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from pairchat.adapters.management import Credentials
from pairchat.adapters.reports_table import DynamoDbReports
from pairchat.domain.ports import ReportNotStored
from pairchat.domain.reports import ReportRecord
from pairchat_tools.local.dynamodb import PATH, DynamoDbEndpoint, ReportTables
from tests.support import free_port

pytestmark = pytest.mark.integration

TABLE = "pairchat-local-reports"
KEY = ("pairchat-local", "a-per-run-secret")


class Served:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the endpoint did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto(url)
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield url
    server.stop()


@pytest.fixture(scope="module")
def local_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tables = ReportTables(tmp_path_factory.mktemp("dev") / "reports.sqlite3", [TABLE])
    served = Served(DynamoDbEndpoint(tables))
    yield f"http://127.0.0.1:{served.port}{PATH}"
    served.stop()
    tables.close()


@pytest.fixture(params=["moto", "local"])
def endpoint(request: pytest.FixtureRequest, moto_url: str, local_url: str) -> str:
    return moto_url if request.param == "moto" else local_url


def boto(url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY[0],
        aws_secret_access_key=KEY[1],
    )


def test_the_adapter_and_boto3_get_the_same_answers(endpoint: str) -> None:
    pool = f"pool-{time.monotonic_ns()}"  # each run its own partition of the shared table
    store = DynamoDbReports(TABLE, "us-east-1", Credentials(*KEY), endpoint=endpoint)
    for i in range(5):
        store.put(ReportRecord.new(pool, 1_790_000_000_000 + i, f"u{i}", "x", f"r{i}", f"why {i}"))
    first, more = store.page(pool, None, 3)
    assert [r.reason for r in first] == ["why 4", "why 3", "why 2"] and more
    rest, more = store.page(pool, first[-1].id, 3)
    assert [r.reason for r in rest] == ["why 1", "why 0"] and not more
    client = boto(endpoint)
    answer = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": pool}},
        Limit=2,
    )
    assert [item["reporter"]["S"] for item in answer["Items"]] == ["u0", "u1"]
    assert answer["LastEvaluatedKey"]["sk"] == answer["Items"][-1]["sk"]
    more_items = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": pool}},
        ExclusiveStartKey=answer["LastEvaluatedKey"],
    )["Items"]
    assert [item["reporter"]["S"] for item in more_items] == ["u2", "u3", "u4"]
    key = {"pk": {"S": pool}, "sk": {"S": first[0].id}}
    assert client.get_item(TableName=TABLE, Key=key)["Item"]["reason"] == {"S": "why 4"}
    client.delete_item(TableName=TABLE, Key=key)
    assert "Item" not in client.get_item(TableName=TABLE, Key=key)


def test_refusals_are_dynamodbs(endpoint: str) -> None:
    client = boto(endpoint)
    with pytest.raises(ClientError) as missing:
        client.put_item(TableName="no-such-table", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as keyless:
        client.put_item(TableName=TABLE, Item={"pk": {"S": "a"}})
    assert keyless.value.response["Error"]["Code"] == "ValidationException"
    store = DynamoDbReports("no-such-table", "us-east-1", Credentials(*KEY), endpoint=endpoint)
    with pytest.raises(ReportNotStored, match="ResourceNotFoundException"):
        store.put(ReportRecord.new("p", 1, "u", "x", "r", ""))


def test_beyond_loopback_it_takes_only_requests_signed_with_the_stacks_key(
    tmp_path: Path,
) -> None:
    tables = ReportTables(tmp_path / "reports.sqlite3", [TABLE])
    served = Served(DynamoDbEndpoint(tables, KEY))
    url = f"http://127.0.0.1:{served.port}{PATH}"
    try:
        good = DynamoDbReports(TABLE, "us-east-1", Credentials(*KEY), endpoint=url)
        good.put(ReportRecord.new("p", 1, "u", "x", "r", "signed"))
        assert [r.reason for r in good.page("p")[0]] == ["signed"]
        bad = DynamoDbReports(TABLE, "us-east-1", Credentials(KEY[0], "wrong"), endpoint=url)
        with pytest.raises(ReportNotStored, match="UnrecognizedClientException"):
            bad.put(ReportRecord.new("p", 2, "u", "x", "r", "forged"))
        assert len(good.page("p")[0]) == 1
    finally:
        served.stop()
        tables.close()
