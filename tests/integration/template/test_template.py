"""template.yaml and the code cannot drift apart.

Follows every WebSocket route to its integration, its function and the handler, which is
imported from the function's CodeUri the way the Lambda runtime does it; checks that the
routes are exactly the protocol's, that each function has one invoke permission scoped to
this API's stage, that the stage deploys every route, that IAM grants nothing on ``*``, and
that the functions' environment is what ``Settings.from_env`` reads. ``make template-check``
covers the other half offline: cfn-lint, ``sam validate --lint``, ``sam build``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pairchat.domain.protocol import ACTIONS
from pairchat.settings import Settings, SettingsError
from pairchat_tools import cfn_yaml
from tests.support import EVENTS_DIR

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
API = "WebSocketApi"
STAGE_ARN = (
    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
    ":${WebSocketApi}/${StageName}/"
)
#: Which entry point serves which route (handlers/ws.py says the same in its docstring).
ROUTE_HANDLERS = {
    "$connect": "pairchat.handlers.ws.on_connect",
    "$disconnect": "pairchat.handlers.ws.on_disconnect",
}
MESSAGE_HANDLER = "pairchat.handlers.ws.on_message"
AUTHORIZER_HANDLER = "pairchat.handlers.authorizer.handler"
#: Routes whose frames the clients send: the protocol's actions plus the catch-all.
EXPECTED_ROUTES = {"$connect", "$disconnect", "$default", *ACTIONS}


# -- loading ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(TEMPLATE)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def function_prop(template: dict[str, Any], name: str, prop: str) -> Any:
    """A function property, falling back to Globals as SAM does."""
    props = template["Resources"][name]["Properties"]
    if prop in props:
        return props[prop]
    return template.get("Globals", {}).get("Function", {}).get(prop)


def sub_refs(text: str) -> set[str]:
    return set(re.findall(r"\$\{([^}!]+)\}", text))


def routes(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Route key -> (route logical id, function logical id), followed through the integration."""
    out: dict[str, tuple[str, str]] = {}
    integrations = of_type(template, "AWS::ApiGatewayV2::Integration")
    functions = of_type(template, "AWS::Serverless::Function")
    for route_id, route in of_type(template, "AWS::ApiGatewayV2::Route").items():
        props = route["Properties"]
        assert props["ApiId"] == {"Ref": API}, f"{route_id} belongs to another API"
        target = props["Target"]["Fn::Sub"]
        match = re.fullmatch(r"integrations/\$\{(\w+)\}", target)
        assert match, f"{route_id}: target {target!r} is not integrations/${{Integration}}"
        integration = integrations[match.group(1)]["Properties"]
        assert integration["ApiId"] == {"Ref": API}
        assert integration["IntegrationType"] == "AWS_PROXY"
        uri = integration["IntegrationUri"]["Fn::Sub"]
        fn_refs = [r.removesuffix(".Arn") for r in sub_refs(uri) if r.endswith(".Arn")]
        assert len(fn_refs) == 1 and fn_refs[0] in functions, f"{route_id}: {uri}"
        assert uri.endswith("/invocations") and ":lambda:path/2015-03-31/functions/" in uri
        key = props["RouteKey"]
        assert key not in out, f"route {key} declared twice"
        out[key] = (route_id, fn_refs[0])
    return out


# -- routes and handlers ------------------------------------------------------------------------


def test_api_selects_routes_by_action(template: dict[str, Any]) -> None:
    api = template["Resources"][API]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"


def test_every_protocol_route_exists_and_reaches_its_handler(template: dict[str, Any]) -> None:
    wired = routes(template)
    assert set(wired) == EXPECTED_ROUTES
    for key, (_route_id, function) in wired.items():
        assert function_prop(template, function, "Handler") == ROUTE_HANDLERS.get(
            key, MESSAGE_HANDLER
        ), key
        # every route has a sample event (sam local invoke -e, tests' load_event)
        assert (EVENTS_DIR / f"{key.lstrip('$')}.json").is_file(), f"no sample event for {key}"


def test_stage_deploys_every_route(template: dict[str, Any]) -> None:
    (stage,) = of_type(template, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["ApiId"] == {"Ref": API}
    assert stage["Properties"]["AutoDeploy"] is True
    depends = stage.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    route_ids = {route_id for route_id, _ in routes(template).values()}
    assert route_ids <= set(depends), f"stage does not wait for {route_ids - set(depends)}"


def test_access_log_records_no_body_query_or_token(template: dict[str, Any]) -> None:
    (stage,) = of_type(template, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    fmt = props["AccessLogSettings"]["Format"]
    json.loads(re.sub(r"\s+", "", fmt))  # one JSON object per line in CloudWatch
    variables = set(re.findall(r"\$context\.[\w.]+", fmt))
    assert variables, fmt
    assert not {v for v in variables if re.search(r"query|body|header|token|auth", v, re.I)}
    settings = props["DefaultRouteSettings"]
    assert settings["DataTraceEnabled"] is False and settings["LoggingLevel"] == "OFF"
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(settings)


IMPORT_PROBE = r"""
import importlib, inspect, json, sys
code_uri, handlers = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, code_uri)  # /var/task comes first on Lambda's sys.path
out = {}
for handler in handlers:
    module_name, _, attr = handler.rpartition(".")  # as the runtime's bootstrap splits it
    fn = getattr(importlib.import_module(module_name), attr)
    inspect.signature(fn).bind({}, None)  # called as handler(event, context)
    out[handler] = sys.modules[module_name].__file__
print(json.dumps(out))
"""


def test_handlers_import_from_code_uri_as_lambda_would(template: dict[str, Any]) -> None:
    by_code_uri: dict[Path, set[str]] = {}
    for name in of_type(template, "AWS::Serverless::Function"):
        assert function_prop(template, name, "Runtime") in ("python3.12", "python3.13"), name
        assert function_prop(template, name, "Architectures") == ["arm64"], name
        code_uri = function_prop(template, name, "CodeUri")
        assert isinstance(code_uri, str), f"{name}: CodeUri must be a local directory"
        path = (ROOT / code_uri).resolve()
        assert (path / "requirements.txt").is_file(), f"{name}: no requirements.txt in {code_uri}"
        by_code_uri.setdefault(path, set()).add(function_prop(template, name, "Handler"))
    assert by_code_uri
    for code_uri, handlers in by_code_uri.items():
        probe = subprocess.run(
            [sys.executable, "-I", "-c", IMPORT_PROBE, str(code_uri), json.dumps(sorted(handlers))],
            cwd=code_uri,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
        files = json.loads(probe.stdout.strip().splitlines()[-1])
        assert set(files) == handlers
        for handler, file in files.items():
            assert Path(file).resolve().is_relative_to(code_uri), f"{handler} came from {file}"


# -- permissions --------------------------------------------------------------------------------


def test_connect_runs_the_authorizer_first(template: dict[str, Any]) -> None:
    """The $connect route is guarded by the REQUEST authorizer whose context every later event
    carries (pools, identity); it is the only route that may have one (API Gateway's rule)."""
    authorizers = of_type(template, "AWS::ApiGatewayV2::Authorizer")
    assert len(authorizers) == 1
    ((authorizer_id, authorizer),) = authorizers.items()
    props = authorizer["Properties"]
    assert props["ApiId"] == {"Ref": API} and props["AuthorizerType"] == "REQUEST"
    # anonymous and optional connections carry no token: an identity source would 401 them
    assert "IdentitySource" not in props
    uri = props["AuthorizerUri"]["Fn::Sub"]
    fn_refs = [r.removesuffix(".Arn") for r in sub_refs(uri) if r.endswith(".Arn")]
    assert fn_refs == ["AuthorizerFunction"] and uri.endswith("/invocations")
    assert function_prop(template, "AuthorizerFunction", "Handler") == AUTHORIZER_HANDLER
    for key, (route_id, _function) in routes(template).items():
        route = template["Resources"][route_id]["Properties"]
        if key == "$connect":
            assert route["AuthorizationType"] == "CUSTOM"
            assert route["AuthorizerId"] == {"Ref": authorizer_id}
        else:
            assert "AuthorizerId" not in route, key
    (permission,) = [
        p["Properties"]
        for p in of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": "AuthorizerFunction"}
    ]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith(f"/authorizers/${{{authorizer_id}}}")
    # it reads the token secret; the $connect function no longer does
    policies = function_prop(template, "AuthorizerFunction", "Policies")
    assert "SSMParameterReadPolicy" in json.dumps(policies)
    assert "SSMParameterReadPolicy" not in json.dumps(
        function_prop(template, "ConnectFunction", "Policies")
    )


def test_one_invoke_permission_per_function_scoped_to_this_stage(template: dict[str, Any]) -> None:
    served: dict[str, set[str]] = {}
    for key, (_route, function) in routes(template).items():
        served.setdefault(function, set()).add(key)
    permissions: dict[str, list[dict[str, Any]]] = {}
    for perm in of_type(template, "AWS::Lambda::Permission").values():
        props = perm["Properties"]
        target = props["FunctionName"]
        if isinstance(target, dict) and target.get("Ref") in served:
            permissions.setdefault(target["Ref"], []).append(props)
    assert set(permissions) == set(served), "a routed function has no invoke permission"
    for function, props_list in permissions.items():
        assert len(props_list) == 1, f"{function} has {len(props_list)} permissions"
        props = props_list[0]
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["Principal"] == "apigateway.amazonaws.com"
        arn = props["SourceArn"]["Fn::Sub"]
        assert arn.startswith(STAGE_ARN), f"{function}: {arn} is not scoped to this stage"
        keys = served[function]
        expected_tail = next(iter(keys)) if len(keys) == 1 else "*"
        assert arn.removeprefix(STAGE_ARN) == expected_tail, f"{function}: {arn}"


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def test_iam_grants_nothing_on_star(template: dict[str, Any]) -> None:
    found = list(statements(template["Resources"]))
    assert found
    for statement in found:
        assert "NotResource" not in statement and "NotAction" not in statement, statement
        if "Principal" in statement:  # a trust policy: it has no resources
            continue
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        for resource in resources:
            text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
            assert text != "*" and not str(text).endswith(":*"), statement


def test_posting_functions_may_manage_only_this_stages_connections(
    template: dict[str, Any],
) -> None:
    policies = of_type(template, "AWS::IAM::ManagedPolicy")
    granting = set()
    for name, policy in policies.items():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            if "execute-api:ManageConnections" in actions:
                assert actions == ["execute-api:ManageConnections"], statement
                resource = statement["Resource"]["Fn::Sub"]
                assert re.fullmatch(
                    re.escape(STAGE_ARN) + r"(POST|GET|DELETE|\*)/@connections/\*", resource
                ), resource
                granting.add(name)
    assert granting
    for key, (_route, function) in routes(template).items():
        policy_refs = {
            p["Ref"]
            for p in function_prop(template, function, "Policies") or []
            if isinstance(p, dict) and "Ref" in p
        }
        # $connect too: a resumed session tells its partner `partner_back`.
        assert policy_refs & granting, f"{function} ({key}) cannot post frames"


# -- environment --------------------------------------------------------------------------------

PLACEHOLDERS = {
    "AWS::Region": "us-east-1",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "pairchat",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
}


def resolve(value: Any, params: Mapping[str, Any]) -> str:
    """An environment value as CloudFormation would render it, with the parameter defaults
    and placeholder attributes (a port is 6379, any other attribute a host name)."""

    def name(ref: str) -> str:
        if ref in params:
            return str(params[ref].get("Default", ""))
        if ref in PLACEHOLDERS:
            return PLACEHOLDERS[ref]
        return "6379" if ref.endswith(".Port") else "x1.example"

    if isinstance(value, (str, int, float)):
        return str(value)
    if "Ref" in value:
        return name(value["Ref"])
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}!]+)\}", lambda m: name(m.group(1)), value["Fn::Sub"])
    if "Fn::If" in value:
        return resolve(value["Fn::If"][1], params)
    raise AssertionError(f"cannot resolve {value!r}")


class RecordingEnv(dict[str, str]):
    def __init__(self, data: Mapping[str, str]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def powertools_names() -> set[str]:
    from aws_lambda_powertools.shared import constants

    return {
        v for v in vars(constants).values() if isinstance(v, str) and v.startswith("POWERTOOLS_")
    }


def test_environment_is_what_settings_reads(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    for name in of_type(template, "AWS::Serverless::Function"):
        variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
        own = template["Resources"][name]["Properties"].get("Environment", {})
        variables.update(own.get("Variables", {}))
        env = RecordingEnv({k: resolve(v, params) for k, v in variables.items()})
        settings = Settings.from_env(env)
        powertools = {k for k in env if k.startswith("POWERTOOLS_")}
        assert powertools <= powertools_names(), powertools - powertools_names()
        unread = set(env) - env.read - powertools
        assert not unread, f"{name}: variables no code reads: {unread}"
        assert settings.redis_cluster is True
        assert settings.redis_url.startswith("rediss://"), "ElastiCache Serverless is TLS only"
        assert settings.key_prefix == params["KeyPrefix"]["Default"]
        assert settings.pools == tuple(params["Pools"]["Default"].split(","))
        assert settings.session_ttl_s == int(params["SessionTtlSeconds"]["Default"])
        assert settings.max_text_chars == int(params["MaxMessageChars"]["Default"])
        assert settings.management_endpoint == (
            "https://x1.example.execute-api.us-east-1.amazonaws.com/prod"
        )
        assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false", "events carry message text"


@pytest.mark.parametrize(
    "prefix",
    ["{pairchat}:", "app:{pc}:", "{a}", "pairchat:", "{}:", "{a}{b}:", "a}{b}:", "{a:", ""],
)
def test_key_prefix_parameter_admits_only_what_cluster_mode_accepts(
    template: dict[str, Any], prefix: str
) -> None:
    param = template["Parameters"]["KeyPrefix"]
    allowed = re.fullmatch(param["AllowedPattern"], prefix) is not None
    try:
        Settings(redis_url="rediss://x:6379", redis_cluster=True, key_prefix=prefix)
        accepted = True
    except SettingsError:
        accepted = False
    assert not allowed or accepted, f"the template admits {prefix!r}, which the code refuses"
    assert allowed == (prefix in ("{pairchat}:", "app:{pc}:", "{a}"))


def test_cache_is_serverless_tls_in_private_subnets(template: dict[str, Any]) -> None:
    (cache,) = of_type(template, "AWS::ElastiCache::ServerlessCache").values()
    props = cache["Properties"]
    assert props["Engine"] in ("valkey", "redis")
    assert props["SecurityGroupIds"] == [{"Ref": "CacheSecurityGroup"}]
    ingress = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Ref": "CacheSecurityGroup"}
    ]
    assert ingress and all(
        i["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"} for i in ingress
    ), "only the functions may reach the cache"
    sg = template["Resources"]["CacheSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in sg
    vpc = template["Globals"]["Function"]["VpcConfig"]
    assert vpc["SubnetIds"] == props["SubnetIds"], "functions and cache share the subnets"


@pytest.mark.parametrize(
    "pools",
    ["default", "en,es,de,pt-br", "EN", "en,,es", "en es", "a" * 33, ""],
)
def test_pools_parameter_admits_only_what_the_code_accepts(
    template: dict[str, Any], pools: str
) -> None:
    param = template["Parameters"]["Pools"]
    allowed = re.fullmatch(param["AllowedPattern"], pools) is not None
    try:
        Settings.from_env({"POOLS": pools})
        accepted = True
    except SettingsError:
        accepted = False
    assert not allowed or accepted, f"the template admits {pools!r}, which the code refuses"
    # (a pattern cannot say "no name twice": a duplicate fails at the first cold start)
    assert allowed == (pools in ("default", "en,es,de,pt-br"))
