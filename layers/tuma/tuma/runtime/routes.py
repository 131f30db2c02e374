"""Routes whose bodies are validated by pydantic in the route, and their OpenAPI document on demand.

Powertools' own validation (`enable_validation=True`) imports its OpenAPI machinery and builds
its models on the first request: paid at every cold start of the webhooks function, which is on
every receipt's path (without it that function started ~80 ms sooner, median of 8 here). Here the
router only routes. Each route names its body model; the body is validated as Powertools would (the
parsed JSON body, pydantic's python mode) and errors keep Powertools' shape (`loc` starting with
"body" or "query"). The OpenAPI document comes from the same typed handlers registered on a
validating resolver, only when asked (scripts/openapi.py, a test).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel, ValidationError


class InvalidRequest(Exception):
    """A body or query that does not fit the route; `errors` as pydantic gives them."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.errors = errors


@dataclass(frozen=True)
class _Route:
    method: str
    path: str
    handler: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)


class Routes:
    def __init__(self, app: APIGatewayRestResolver) -> None:
        self.app = app
        self._routes: list[_Route] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        body: type[BaseModel] | None = None,
        query: Mapping[str, tuple[str, ...]] | None = None,
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register `handler` for `path`; its body parameter gets `body` validated, its query
        parameters (each with its allowed values) the query string's value when one is given."""
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
                    params[body_name] = self._body(body)
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
            self._routes.append(_Route(method, path, handler, options))
            return handler

        return register

    def _body(self, model: type[BaseModel]) -> BaseModel:
        try:
            data = self.app.current_event.json_body
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

    def openapi_json(self, title: str, version: str, namespace: dict[str, Any]) -> str:
        """The OpenAPI document of these routes. `namespace` is the handlers' module globals, where
        their annotations are evaluated: Powertools' Body and Query are put there for the purpose."""
        from aws_lambda_powertools.event_handler.openapi.params import Body, Query

        namespace.setdefault("Body", Body)
        namespace.setdefault("Query", Query)
        documented = APIGatewayRestResolver(enable_validation=True)
        for route in self._routes:
            getattr(documented, route.method)(route.path, **route.options)(route.handler)
        document: str = documented.get_openapi_json_schema(title=title, version=version)
        return document
