"""Routes whose authentication and bodies are declared with them, and their OpenAPI document on demand.

Each route names how its caller proves who it is (`Auth`): the gate (tuma.runtime.webhook_gate)
reads that from here, so a route cannot be added without it, and a path no route declares ends in
404 before any handler runs.

Powertools' own validation (`enable_validation=True`) imports its OpenAPI machinery and builds
its models on the first request: paid at every cold start of the webhooks function, which is on
every receipt's path (without it that function started ~80 ms sooner, median of 8 here). Here the
router only routes. Each route names its body model; the body is validated as Powertools would (the
parsed JSON body, pydantic's python mode) and errors keep Powertools' shape (`loc` starting with
"body" or "query"). The OpenAPI document comes from the same typed handlers registered on a
validating resolver, only when asked (scripts/openapi.py, a test).

A route names its model by where it lives ("tuma.models.mpesa:C2BConfirmation"), imported with the
route's first request: a cold start builds no route's model, and a container builds only those of
the routes it is asked (the four callers' models were about 10 ms of the webhooks function's cold
start: bench/cold_start.py --instructions).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from tuma.models.api_keys import Scope
    from tuma.models.callback_tokens import Caller


class InvalidRequest(Exception):
    """A body or query that does not fit the route; `errors` as pydantic gives them."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.errors = errors


class Auth(StrEnum):
    """How a route's caller proves it may call it. There is no public route."""

    # Daraja cannot sign: the unguessable `<token>` in the path (its own secret, tuma.models.
    # callback_tokens), and the request must come from one of Safaricom's addresses
    # (DARAJA_CALLBACK_IPS, read from API Gateway's view of the connection, never from a header).
    # From elsewhere: 403, counted and logged; a wrong token: 404, as if the path did not exist.
    DARAJA = "daraja"
    # The SMS provider cannot sign either: the `<token>` in the path, its own secret.
    PROVIDER = "provider"
    # An RFC 9421 signature (tuma.security.message_signatures) with one of the business's API keys,
    # which must hold the scope the route declares; each signature is accepted once.
    SIGNATURE = "signature"

    @property
    def caller(self) -> Caller | None:
        """The caller whose path token the route takes; None for a signed route."""
        from tuma.models.callback_tokens import Caller

        return {Auth.DARAJA: Caller.DARAJA, Auth.PROVIDER: Caller.PROVIDER}.get(self)


# A path parameter as API Gateway hands it over: anything up to the next slash.
_PARAMETER = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class Route:
    method: str  # upper case
    path: str  # Powertools' form: /payments/stk/<token>
    auth: Auth
    handler: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)
    # What the handler answers, by status: (when, the name of its model in tuma.models.answers).
    answers: dict[int, tuple[str, str]] = field(default_factory=dict)
    body: str | None = None  # where its body's model lives: "tuma.models.mpesa:C2BConfirmation"
    lenient: bool = False  # any JSON object is acknowledged (Daraja's callbacks)
    scope: Scope | None = None  # what an API key must hold to call a signed route
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pieces = _PARAMETER.split(self.path.rstrip("/"))  # literal, name, literal, name, ...
        regex = "".join(
            f"(?P<{piece}>[^/]+)" if i % 2 else re.escape(piece) for i, piece in enumerate(pieces)
        )
        # A trailing slash is the same route, as Powertools' REST resolver treats it.
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/*$"))

    @property
    def resource(self) -> str:
        """The path as template.yaml and API Gateway write it: /payments/stk/{token}."""
        return _PARAMETER.sub(r"{\1}", self.path)


@dataclass(frozen=True)
class Matched:
    """The declared routes of one path: what the gate checks a request against."""

    routes: tuple[Route, ...]
    parameters: dict[str, str]

    @property
    def methods(self) -> list[str]:
        return [route.method for route in self.routes]

    def route_for(self, method: str) -> Route | None:
        return next((route for route in self.routes if route.method == method.upper()), None)


class Routes:
    def __init__(self, app: APIGatewayRestResolver) -> None:
        self.app = app
        self._routes: list[Route] = []

    @property
    def declared(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def match(self, path: str) -> Matched | None:
        """The routes declared for `path` (one per method), None when no route is. Where several
        declared paths fit, the one with the fewest parameters wins, as in API Gateway."""
        best: tuple[str, dict[str, str]] | None = None
        for route in self._routes:
            matched = route.pattern.match(path)
            if matched and (best is None or len(matched.groupdict()) < len(best[1])):
                best = (route.path, matched.groupdict())
        if best is None:
            return None
        return Matched(tuple(r for r in self._routes if r.path == best[0]), best[1])

    def add(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        body: str | None = None,
        query: Mapping[str, tuple[str, ...]] | None = None,
        answers: Mapping[int, tuple[str, str]] | None = None,
        lenient: bool = False,
        scope: Scope | None = None,
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register `handler` for `path`, callable only as `auth` says; its body parameter gets the body
        validated by the model `body` names ("module:Model", imported with the first request), its
        query parameters (each with its allowed values) the query string's value when one is given. `answers`: what the handler itself answers, by status (the gate's answers, and
        the invalid-request 422, follow from `auth` and `body`). `lenient`: the handler reads any JSON
        object (`body` says what it looks for) and answers it as `answers` says, never 422.
        `scope`: for a signed route, what the caller's API key must hold."""
        _check_declaration(f"{method.upper()} {path}", auth, scope, bool(answers), body)
        allowed = dict(query or {})

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            in_path = set(re.findall(r"<(\w+)>", path))
            # Annotations stay strings (postponed): nothing of them is evaluated here.
            names = [
                n for n in inspect.signature(handler).parameters if n not in in_path and n not in allowed
            ]
            body_name = names[0] if body is not None and names else None

            def run(**params: Any) -> Any:
                if body is not None and body_name is not None:
                    params[body_name] = self._body(model_of(body))
                for name, values in allowed.items():
                    value = self.app.current_event.get_query_string_value(name)
                    if value is None:
                        continue
                    if value not in values:
                        raise InvalidRequest(
                            [
                                {
                                    "loc": ("query", name),
                                    "msg": f"Input should be {' or '.join(map(repr, values))}",
                                }
                            ]
                        )
                    params[name] = value
                return handler(**params)

            run.__name__ = handler.__name__
            getattr(self.app, method)(path, **options)(run)
            self._routes.append(
                Route(
                    method.upper(),
                    path,
                    auth,
                    handler,
                    options,
                    dict(answers or {}),
                    body,
                    lenient,
                    scope,
                )
            )
            return handler

        return register

    def _body(self, model: type[BaseModel]) -> BaseModel:
        from tuma.models.validation import whole

        try:
            # Text that is not Unicode (a lone surrogate escape) is mended here, at the edge, for
            # every route: further in, it would fail the ledger write or the outbox message.
            data = whole(self.app.current_event.json_body)
        except ValueError as exc:
            raise InvalidRequest(
                [{"loc": ("body",), "msg": f"JSON decode error: {type(exc).__name__}"}]
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidRequest(
                [{"loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
            ) from None

    def openapi_json(self, title: str, version: str) -> str:
        """The OpenAPI document of these routes. Each handler's annotations are evaluated in its own
        module's globals: Powertools' Body and Query are put there for the purpose (the route modules
        import them for type checking only, so that no cold start pays for them)."""
        from aws_lambda_powertools.event_handler.openapi.params import Body, Query

        documented = APIGatewayRestResolver(enable_validation=True)
        for route in self._routes:
            route.handler.__globals__.setdefault("Body", Body)
            route.handler.__globals__.setdefault("Query", Query)
            if route.body:  # the handler's module imports its model for type checking only
                model = model_of(route.body)
                route.handler.__globals__.setdefault(model.__name__, model)
            getattr(documented, route.method.lower())(route.path, **route.options)(route.handler)
        document = json.loads(documented.get_openapi_json_schema(title=title, version=version))
        return json.dumps(self._complete(document))

    def _complete(self, document: dict[str, Any]) -> dict[str, Any]:
        """Every status each route can answer, with its body; the security schemes; the path token."""
        from pydantic.json_schema import models_json_schema

        from tuma.models import answers

        used = {"Problem", "InvalidRequest"} | {name for r in self._routes for _, name in r.answers.values()}
        models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
            (getattr(answers, name), "serialization") for name in sorted(used)
        ]
        _, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.update(definitions.get("$defs", {}))
        # Powertools' own validation answers, which these routes never give (their 422 is
        # InvalidRequest): left in, they would refer to each other and to nothing else.
        for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
            schemas.pop(unused, None)
        components["securitySchemes"] = SECURITY_SCHEMES
        for route in self._routes:
            _document_route(route, document["paths"][route.resource][route.method.lower()])
        return document


@cache
def model_of(body: str) -> type[BaseModel]:
    """The model a route's `body` names ("module:Model"), imported when first asked for."""
    module, _, name = body.partition(":")
    model = getattr(importlib.import_module(module), name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{body} is not a pydantic model")
    return model


def _check_declaration(route: str, auth: Auth, scope: Scope | None, answers: bool, body: str | None) -> None:
    if not isinstance(auth, Auth):
        raise TypeError(f"{route}: auth must be an Auth, not {auth!r}")
    if (auth is Auth.SIGNATURE) != (scope is not None):
        raise ValueError(f"{route}: a signed route, and only one, names its scope")
    if auth.caller is not None and "<token>" not in route:
        raise ValueError(f"{route}: a path-token route needs <token> in its path")
    if not answers:
        raise ValueError(f"{route}: declare what the route answers (answers=)")
    if body is not None and not re.fullmatch(r"[\w.]+:\w+", body):
        raise ValueError(f"{route}: body names its model as module:Model, not {body!r}")


def _document_route(route: Route, operation: dict[str, Any]) -> None:
    """What the route answers (its own answers, then the gate's), and how its caller authenticates."""
    found: dict[int, tuple[str, str]] = dict(route.answers) | GATE_ANSWERS
    if route.body:
        found |= _body_answers(route, operation)
    found |= _auth_answers(route, operation)
    operation["responses"] = {
        str(status): {
            "description": description,
            "content": {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            **({"headers": {"Allow": {"schema": {"type": "string"}}}} if status == 405 else {}),
        }
        for status, (description, name) in sorted(found.items())
    }


def _body_answers(route: Route, operation: dict[str, Any]) -> dict[int, tuple[str, str]]:
    found = {
        400: ("the body is not a JSON object, or nests too deep", "Problem"),
        413: ("the body is too large", "Problem"),
    }
    if not route.lenient:
        found[422] = ("a field is missing or invalid: each is named", "InvalidRequest")
        return found
    content = operation["requestBody"]["content"][JSON_TYPE]
    content["schema"] = {"description": LENIENT_DESCRIPTION, "anyOf": [content["schema"], {"type": "object"}]}
    return found


def _auth_answers(route: Route, operation: dict[str, Any]) -> dict[int, tuple[str, str]]:
    if route.auth is Auth.SIGNATURE:
        assert route.scope is not None
        operation["security"] = [{"signature": [], "signatureInput": []}]
        operation["x-tuma-scope"] = route.scope.value
        operation["description"] = (
            operation.get("description", "")
            + f"\n\nSigned (RFC 9421) with an API key holding the `{route.scope}` scope."
        ).strip()
        return {
            401: ("the signature is missing, stale, already used, or not this request's", "Problem"),
            403: (f"the API key does not hold the `{route.scope}` scope", "Problem"),
        }
    operation["security"] = []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") == "token":
            parameter["description"] = PATH_PARAMETER_DESCRIPTIONS[route.auth]
    found = {404: ("the path token is wrong: answered as for a path that does not exist", "Problem")}
    if route.auth is Auth.DARAJA:
        found[403] = ("the request does not come from one of Safaricom's addresses", "Problem")
    return found


# What the gate and the resolver answer for every route, whatever it declares.
GATE_ANSWERS = {
    405: ("the path exists, but not with this method (`Allow` names the ones it has)", "Problem"),
    500: ("the stack is misconfigured (a table or secret it needs is missing)", "Problem"),
    503: ("the request could not be recorded now; retry", "Problem"),
}


JSON_TYPE = "application/json"
LENIENT_DESCRIPTION = (
    "Any JSON object is acknowledged, so that Safaricom does not retry: the first schema is what is "
    "read; a callback that cannot make a receipt is recorded in the ledger (REJECTED, with the reason)."
)
PATH_PARAMETER_DESCRIPTIONS = {
    Auth.DARAJA: (
        "The Daraja callback secret's `token` (DarajaCallbackSecretArn): Daraja cannot sign. A wrong token "
        "is answered 404, as a path that does not exist; only Safaricom's addresses may call (403)."
    ),
    Auth.PROVIDER: (
        "The provider callback secret's `token` (ProviderCallbackSecretArn): the SMS provider cannot sign. "
        "A wrong token is answered 404, as a path that does not exist."
    ),
}
SECURITY_SCHEMES = {
    "signature": {
        "type": "apiKey",
        "in": "header",
        "name": "Signature",
        "description": (
            "RFC 9421 HTTP Message Signatures, algorithm `hmac-sha256`, keyed with an API key's secret "
            "(its text as UTF-8 bytes; `tuma keys create`). Any RFC 9421 library signs: for example "
            "`http-message-signatures` in Python. The signature value, as a byte sequence under the label "
            "that Signature-Input names."
        ),
    },
    "signatureInput": {
        "type": "apiKey",
        "in": "header",
        "name": "Signature-Input",
        "description": (
            "Covered components at least `@method` and `@path` (the path as sent, percent-encoded, with the "
            "stage: `/v1/messages/alert%3A42`), and `content-digest` when there is a body (RFC 9530 "
            "`Content-Digest: sha-256=:...:`); parameters `keyid` (the API key's id), `created` (within 5 "
            "minutes) and `nonce` (new for every request: a signature is accepted once), `alg` optional. "
            'Example: `sig=("@method" "@path" "content-digest");created=1765000000;'
            'keyid="tk_3f9a2c7d1e4b";nonce="b1e0c6a4f2d8e9a7"`'
        ),
    },
}
