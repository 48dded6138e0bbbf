"""The WebSocket wiring, read from template.yaml itself so local and deployed cannot drift.

Follows the same references CloudFormation follows: each ``AWS::ApiGatewayV2::Route`` of the
WebSocket API names an integration in its ``Target``; the integration's ``IntegrationUri``
names a function; the function (with SAM ``Globals``) gives Handler, CodeUri, Timeout and
Environment. ``!Ref``/``!Sub``/``!GetAtt`` (short or long form: ``cfn_yaml`` reads both as
the long form) are followed, and parameter defaults resolve what can be resolved locally; a
value that cannot (``RedisUrl`` has no default) is left ``None`` for the emulator to supply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairchat_tools import cfn_yaml

WEBSOCKET_API = "AWS::ApiGatewayV2::Api"
ROUTE = "AWS::ApiGatewayV2::Route"
ROUTE_RESPONSE = "AWS::ApiGatewayV2::RouteResponse"
INTEGRATION = "AWS::ApiGatewayV2::Integration"
AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
#: The key the authorizer's function is invoked under (no route can have it: not an action).
AUTHORIZER_ROUTE = "$connect authorizer"
#: Identity sources the emulator checks (API Gateway answers 401 when one is missing).
_IDENTITY_SOURCE = re.compile(r"^route\.request\.(querystring|header)\.([\w.-]+)$")
STAGE = "AWS::ApiGatewayV2::Stage"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class WiringError(ValueError):
    """template.yaml does not describe a WebSocket API the emulator can serve."""


def load_template(path: Path) -> dict[str, Any]:
    try:
        return cfn_yaml.load(path)
    except ValueError as exc:
        raise WiringError(str(exc)) from None


def _intrinsic(expr: Any) -> tuple[str, Any] | None:
    """(name, argument) of an intrinsic, e.g. ("Ref", "X") (``cfn_yaml`` gives long forms)."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((key, value),) = expr.items()
        if key == "Ref":
            return "Ref", value
        if key.startswith("Fn::"):
            return key[4:], value
    return None


def references(expr: Any) -> Iterator[str]:
    """Logical ids an expression refers to (Ref, GetAtt, ``${X}``/``${X.Arn}`` in Sub)."""
    fn = _intrinsic(expr)
    if fn is not None:
        name, arg = fn
        if name == "Ref" and isinstance(arg, str):
            yield arg
            return
        if name == "GetAtt":
            target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
            yield str(target)
            return
        if name == "Sub":
            template = arg if isinstance(arg, str) else arg[0]
            for var in _SUB_VAR.findall(template):
                yield var.split(".", 1)[0]
            if isinstance(arg, list) and len(arg) > 1:
                yield from references(arg[1])
            return
        yield from references(arg)
        return
    if isinstance(expr, dict):
        for value in expr.values():
            yield from references(value)
    elif isinstance(expr, list):
        for value in expr:
            yield from references(value)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: Path
    timeout_s: float
    memory_mb: int
    #: Resolved values; ``None`` where the template needs a deploy-time value.
    environment: dict[str, str | None]

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class AuthorizerSpec:
    """A REQUEST Lambda authorizer on ``$connect`` (the only route that may have one)."""

    logical_id: str
    function: FunctionSpec
    #: (``querystring`` | ``header``, name) pairs every request must carry, else 401.
    identity_source: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Wiring:
    template: Path
    api_id: str
    api_name: str
    #: e.g. ``$request.body.action``.
    selection_expression: str
    stage: str
    routes: dict[str, FunctionSpec]
    #: Routes with a route response: the handler's ``body`` goes back to the client.
    two_way: frozenset[str] = field(default_factory=frozenset)
    #: The REQUEST authorizer of ``$connect``, when the route names one.
    authorizer: AuthorizerSpec | None = None

    @property
    def selection_path(self) -> tuple[str, ...]:
        """``$request.body.action`` -> ``("action",)``."""
        prefix = "$request.body."
        if not self.selection_expression.startswith(prefix):
            raise WiringError(
                f"unsupported RouteSelectionExpression {self.selection_expression!r}; "
                "the emulator supports $request.body.<path>"
            )
        return tuple(self.selection_expression[len(prefix) :].split("."))

    def invocables(self) -> dict[str, FunctionSpec]:
        """What the emulator invokes: every route, and the authorizer under
        :data:`AUTHORIZER_ROUTE`."""
        out = dict(self.routes)
        if self.authorizer is not None:
            out[AUTHORIZER_ROUTE] = self.authorizer.function
        return out

    def functions(self) -> list[FunctionSpec]:
        seen: dict[str, FunctionSpec] = {}
        for spec in self.invocables().values():
            seen.setdefault(spec.logical_id, spec)
        return list(seen.values())

    def environment(self) -> tuple[dict[str, str | None], list[str]]:
        """The union of every function's environment, and the names that conflict.

        One emulator process hosts every function, so they share ``os.environ``.
        """
        merged: dict[str, str | None] = {}
        conflicts: list[str] = []
        for spec in self.functions():
            for name, value in spec.environment.items():
                if name in merged and merged[name] != value:
                    conflicts.append(name)
                merged[name] = value
        return merged, conflicts


class _Resolver:
    def __init__(self, template: Mapping[str, Any]) -> None:
        params = template.get("Parameters") or {}
        self.params: dict[str, str | None] = {}
        for name, spec in params.items():
            default = (spec or {}).get("Default")
            self.params[name] = None if default is None else str(default)
        self.pseudo = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "000000000000",
            "AWS::Partition": "aws",
            "AWS::StackName": "pairchat-local",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def value(self, expr: Any) -> str | None:
        """A scalar with parameters substituted; None when it needs a deploy-time value."""
        if isinstance(expr, bool):
            return "true" if expr else "false"
        if isinstance(expr, str | int | float):
            return str(expr)
        fn = _intrinsic(expr)
        if fn is None:
            return None
        name, arg = fn
        if name == "Ref" and isinstance(arg, str):
            if arg in self.params:
                return self.params[arg]
            return self.pseudo.get(arg)
        if name == "Sub":
            template = arg if isinstance(arg, str) else arg[0]
            local = {}
            if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict):
                local = {k: self.value(v) for k, v in arg[1].items()}
            missing = False

            def sub(match: re.Match[str]) -> str:
                nonlocal missing
                var = match.group(1)
                found = local.get(var) if var in local else self.params.get(var)
                if found is None:
                    found = self.pseudo.get(var)
                if found is None:
                    missing = True
                    return ""
                return found

            result = _SUB_VAR.sub(sub, template)
            return None if missing else result
        return None


def _only(resources: Mapping[str, Any], ids: Iterator[str], types: tuple[str, ...]) -> str | None:
    for rid in ids:
        if (resources.get(rid) or {}).get("Type") in types:
            return rid
    return None


def read_wiring(path: Path) -> Wiring:
    """The WebSocket API of a template: its routes, each resolved to a function."""
    path = path.resolve()
    template = load_template(path)
    resources: dict[str, Any] = template.get("Resources") or {}
    resolver = _Resolver(template)
    apis = [
        rid
        for rid, res in resources.items()
        if res.get("Type") == WEBSOCKET_API
        and (res.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    ]
    if not apis:
        raise WiringError(f"{path} has no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET")
    api_id = apis[0]
    api_props = resources[api_id].get("Properties") or {}
    selection = resolver.value(api_props.get("RouteSelectionExpression")) or ""
    if not selection.startswith("$request.body.") or selection == "$request.body.":
        raise WiringError(
            f"unsupported RouteSelectionExpression {selection!r}; "
            "the emulator supports $request.body.<path>"
        )

    globals_fn = (template.get("Globals") or {}).get("Function") or {}

    def props_of(rid: str) -> dict[str, Any]:
        return dict((resources.get(rid) or {}).get("Properties") or {})

    def belongs(props: Mapping[str, Any]) -> bool:
        return api_id in set(references(props.get("ApiId")))

    functions: dict[str, FunctionSpec] = {}

    def function(rid: str) -> FunctionSpec:
        if rid in functions:
            return functions[rid]
        props = props_of(rid)
        handler = resolver.value(props.get("Handler") or globals_fn.get("Handler"))
        if not handler or "." not in handler:
            raise WiringError(f"function {rid} has no Handler of the form module.function")
        code_uri = resolver.value(props.get("CodeUri") or globals_fn.get("CodeUri")) or "."
        env: dict[str, str | None] = {}
        for source in (globals_fn, props):
            variables = ((source.get("Environment") or {}).get("Variables")) or {}
            for name, value in variables.items():
                env[str(name)] = resolver.value(value)
        spec = FunctionSpec(
            logical_id=rid,
            handler=handler,
            code_uri=(path.parent / code_uri).resolve(),
            timeout_s=float(resolver.value(props.get("Timeout", globals_fn.get("Timeout"))) or 3),
            memory_mb=int(
                resolver.value(props.get("MemorySize", globals_fn.get("MemorySize"))) or 128
            ),
            environment=env,
        )
        functions[rid] = spec
        return spec

    routes: dict[str, FunctionSpec] = {}
    route_ids: dict[str, str] = {}
    connect_props: dict[str, Any] | None = None
    for rid, res in resources.items():
        if res.get("Type") != ROUTE:
            continue
        props = props_of(rid)
        if not belongs(props):
            continue
        key = resolver.value(props.get("RouteKey"))
        if not key:
            raise WiringError(f"route {rid} has no RouteKey")
        integration = _only(resources, references(props.get("Target")), (INTEGRATION,))
        if integration is None:
            raise WiringError(f"route {rid} ({key}) has no Target integration")
        uri = props_of(integration).get("IntegrationUri")
        fn_id = _only(resources, references(uri), FUNCTION_TYPES)
        if fn_id is None:
            raise WiringError(f"integration {integration} does not invoke a function here")
        routes[key] = function(fn_id)
        route_ids[rid] = key
        if key == "$connect":
            connect_props = props

    authorizer = None
    if (
        connect_props is not None
        and resolver.value(connect_props.get("AuthorizationType")) == "CUSTOM"
    ):
        authorizer = _authorizer(resources, connect_props, resolver, function, props_of)

    two_way = set()
    for res in resources.values():
        if res.get("Type") == ROUTE_RESPONSE:
            for ref in references((res.get("Properties") or {}).get("RouteId")):
                if ref in route_ids:
                    two_way.add(route_ids[ref])

    stage = "local"
    for res in resources.values():
        if res.get("Type") == STAGE:
            props = res.get("Properties") or {}
            if api_id in set(references(props.get("ApiId"))):
                stage = resolver.value(props.get("StageName")) or stage
                break

    if not routes:
        raise WiringError(f"{path}: the WebSocket API has no routes")
    wiring = Wiring(
        template=path,
        api_id=api_id,
        api_name=resolver.value(api_props.get("Name")) or api_id,
        selection_expression=selection,
        stage=stage,
        routes=routes,
        two_way=frozenset(two_way),
        authorizer=authorizer,
    )
    return wiring


def _authorizer(
    resources: Mapping[str, Any],
    route: Mapping[str, Any],
    resolver: _Resolver,
    function: Any,
    props_of: Any,
) -> AuthorizerSpec:
    """The REQUEST authorizer a CUSTOM ``$connect`` route names, resolved to its function."""
    auth_id = _only(resources, references(route.get("AuthorizerId")), (AUTHORIZER,))
    if auth_id is None:
        raise WiringError(
            "$connect is CUSTOM-authorized but names no AWS::ApiGatewayV2::Authorizer"
        )
    props = props_of(auth_id)
    kind = resolver.value(props.get("AuthorizerType"))
    if kind != "REQUEST":
        raise WiringError(
            f"authorizer {auth_id}: the emulator runs REQUEST authorizers, not {kind}"
        )
    fn_id = _only(resources, references(props.get("AuthorizerUri")), FUNCTION_TYPES)
    if fn_id is None:
        raise WiringError(f"authorizer {auth_id} does not invoke a function here")
    sources = []
    for raw in props.get("IdentitySource") or []:
        match = _IDENTITY_SOURCE.match(resolver.value(raw) or "")
        if match is None:
            raise WiringError(f"authorizer {auth_id}: unsupported identity source {raw!r}")
        sources.append((match.group(1), match.group(2)))
    return AuthorizerSpec(auth_id, function(fn_id), tuple(sources))


def default_template() -> Path:
    """template.yaml of the checkout this package runs from, else of the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "template.yaml"
        if candidate.is_file():
            return candidate
    return Path.cwd() / "template.yaml"
