"""Drive functions/webhooks with real REST proxy events, as API Gateway would."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.integration.conftest import Function, Stack
from tuma_cli.api_signing import ApiKeyCredentials, signature_headers
from tuma_cli.local.events import rest_proxy_event

RESOURCES = [
    (re.compile(r"^/payments/c2b/validation/([^/]*)$"), "/payments/c2b/validation/{token}"),
    (re.compile(r"^/payments/c2b/confirmation/([^/]*)$"), "/payments/c2b/confirmation/{token}"),
    (re.compile(r"^/payments/stk/([^/]*)$"), "/payments/stk/{token}"),
    (re.compile(r"^/payments/status-results/([^/]*)$"), "/payments/status-results/{token}"),
    (re.compile(r"^/delivery-reports/([^/]*)$"), "/delivery-reports/{token}"),
    (re.compile(r"^/messages/([^/]*)$"), "/messages/{key}"),
]


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


# One of Safaricom's published callback addresses (the template's SafaricomCallbackIps).
SAFARICOM = "196.201.214.200"
DARAJA_PATHS = re.compile(r"^/payments/(c2b|stk|status-results)/")


@dataclass
class WebhookClient:
    function: Function
    stack: Stack
    token: str  # the webhook secret's path_token: each caller's secret accepts it until rotated
    key: ApiKeyCredentials  # an API key with every scope, made as `tuma keys create` makes one
    daraja_token: str = ""
    provider_token: str = ""

    @classmethod
    def create(cls, stack: Stack, function: Function) -> WebhookClient:
        def read(logical_id: str) -> dict[str, Any]:
            value = stack.client("secretsmanager").get_secret_value(SecretId=stack.topology.ref(logical_id))
            found: dict[str, Any] = json.loads(value["SecretString"])
            return found

        from tuma_cli.local.seeding import seed_api_key

        made = seed_api_key(stack.topology, stack.endpoint)
        return cls(
            function,
            stack,
            read("WebhookSecret")["path_token"],
            ApiKeyCredentials(made["id"], made["secret"]),
            read("DarajaCallbackSecret")["token"],
            read("ProviderCallbackSecret")["token"],
        )

    def event(
        self,
        path: str,
        body: bytes | str | dict[str, Any] | None,
        headers: dict[str, str] | None = None,
        method: str = "POST",
        base64_body: bool = False,
        source_ip: str | None = None,
    ) -> dict[str, Any]:
        """A request as API Gateway hands it over; Daraja's routes are called from one of Safaricom's
        addresses unless `source_ip` says otherwise."""
        if isinstance(body, dict):
            body = json.dumps(body)
        raw = body.encode() if isinstance(body, str) else body
        resource, params = path, None
        for pattern, template in RESOURCES:
            match = pattern.match(path)
            if match:
                name = "key" if template.startswith("/messages") else "token"
                resource, params = template, {name: match.group(1)}
        event = rest_proxy_event(
            method,
            path,
            resource=resource,
            path_parameters=params,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=raw,
            source_ip=source_ip or (SAFARICOM if DARAJA_PATHS.match(path) else "127.0.0.1"),
        )
        if base64_body and raw is not None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
        return event

    def signed_event(self, path: str, method: str = "GET") -> dict[str, Any]:
        """A bodiless request (GET or DELETE a message), signed over its method and path."""
        return self.event(path, None, self.signed_headers(b"", path, method), method=method)

    def send(self, event: dict[str, Any]) -> Answer:
        response = self.function(event)
        body = response.get("body")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        return Answer(response["statusCode"], parsed, response.get("headers") or {})

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> Answer:
        return self.send(self.event(path, body, headers, **kwargs))

    def daraja(self, route: str, body: Any) -> Answer:
        return self.post(f"/payments/{route}/{self.daraja_token}", body)

    def report(self, body: Any) -> Answer:
        """A delivery report, as the provider posts it to the URL in its portal."""
        return self.post(f"/delivery-reports/{self.provider_token}", body)

    def signed_headers(
        self,
        body: bytes,
        path: str,
        method: str = "POST",
        timestamp: int | None = None,
        key: ApiKeyCredentials | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """RFC 9421, as a business's library signs a request to the deployed API (stage /v1)."""
        created = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)
        url = f"https://api.example.test/v1{path}"
        return signature_headers(key or self.key, method, url, body or None, created=created, nonce=nonce)

    def signed(self, path: str, body: dict[str, Any] | bytes, **kwargs: Any) -> Answer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.post(path, raw, self.signed_headers(raw, path, **kwargs))

    def queued(self) -> list[dict[str, Any]]:
        """Messages now on either outbox lane (made visible again for whoever reads next)."""
        return self.stack.queued(delete=False)
