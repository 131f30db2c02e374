"""Signing a request to Tuma's API as a business's own code would: RFC 9421 HTTP Message Signatures,
with the well-kept `http-message-signatures` library (the `signing` extra).

What Tuma's gate demands (tuma.security.message_signatures): `hmac-sha256` with an API key's secret,
`keyid` the key's id, covering `@method`, `@path` and, with a body, `content-digest`; `created` and a
`nonce` new for every request. `tuma local demo`, the tests and the README's example sign here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

COMPONENTS = ("@method", "@path")
SIGNATURE_HEADERS = ("signature", "signature-input", "content-digest")


@dataclass(frozen=True)
class ApiKeyCredentials:
    """An API key as `tuma keys create` prints it: its id and its secret."""

    key_id: str
    secret: str = field(repr=False)


def signature_headers(
    key: ApiKeyCredentials,
    method: str,
    url: str,
    body: bytes | None = None,
    *,
    created: datetime | None = None,
    nonce: str | None = None,
    components: Sequence[str] = COMPONENTS,
) -> dict[str, str]:
    """Signature, Signature-Input and (with a body) Content-Digest for this request. `url` is the
    full URL as it will be sent (with the stage: /v1/...), percent-encoded."""
    import httpx
    from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

    class _Resolver(HTTPSignatureKeyResolver):
        def resolve_private_key(self, key_id: str) -> bytes:
            return key.secret.encode()

        def resolve_public_key(self, key_id: str) -> bytes:
            return key.secret.encode()

    message = httpx.Request(method.upper(), url)
    signer = HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_Resolver())
    signer.sign(
        message,
        key_id=key.key_id,
        created=created or datetime.now(UTC),
        nonce=nonce or secrets.token_urlsafe(18),
        label="tuma",
        covered_component_ids=tuple(components),
        body=body or None,
    )
    return {name: value for name, value in message.headers.items() if name.lower() in SIGNATURE_HEADERS}


def signed_request(
    client: httpx.Client,
    key: ApiKeyCredentials,
    method: str,
    url: str,
    body: bytes | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one signed request with `client` (Content-Type JSON when there is a body)."""
    headers = dict(kwargs.pop("headers", {}) or {})
    if body:
        headers.setdefault("Content-Type", "application/json")
    headers |= signature_headers(key, method, url, body)
    return client.request(method, url, content=body, headers=headers, **kwargs)
