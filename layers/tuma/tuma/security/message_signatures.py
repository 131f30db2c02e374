"""RFC 9421 HTTP Message Signatures, verified: what every signed route of Tuma's API demands.

A business signs with any RFC 9421 library (http-message-signatures or requests-http-signature in
Python, and their equivalents in Node, Go and Java). Tuma demands:
- `alg` absent or `hmac-sha256`, and `keyid` naming one of the business's API keys (tuma keys);
- covered components at least `@method` and `@path` (the path as the client sent it: percent-encoded,
  with the stage), and for a request with a body `content-digest` (RFC 9530, sha-256 or sha-512),
  which is checked against the body;
- parameters `created`, within five minutes of now (and `expires`, if given, not past), and `nonce`,
  which the gate lets through once (tuma.ports.ReplayGuard).
A signature for one method or path is worthless on another; one for one body on another body.

Why a verifier of our own rather than the library: the library needs `cryptography` and `http-sf`
in the webhooks function, which is on every receipt's path, for the one algorithm Tuma verifies
(bench/cold_start.py measures the import). tests/unit/test_message_signatures.py holds this verifier
to the library (what it signs verifies here, what it would refuse is refused) and to RFC 9421's own
HMAC example (Appendix B.2.5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from tuma.security.structured_fields import (
    FieldError,
    InnerList,
    Item,
    parse_dictionary,
    serialize_inner_list,
)

__all__ = ["WINDOW_SECONDS", "Signature", "SignedRequest", "read_signature", "verify"]

WINDOW_SECONDS = 300
ALGORITHM = "hmac-sha256"
REQUIRED = ("@method", "@path")
_DERIVED = frozenset({"@method", "@path", "@query", "@authority"})
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str  # as the client sent it: percent-encoded, with the stage
    query: str  # the raw query string, without "?"
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Signature:
    label: str
    key_id: str
    nonce: str
    created: int
    expires: int | None
    covered: tuple[str, ...]
    params: str  # the @signature-params value: the inner list, serialised
    value: bytes


def read_signature(headers: Mapping[str, str]) -> Signature | str:
    """The request's signature (the first label that names a key), or why there is none to check."""
    given, signatures = headers.get("signature-input"), headers.get("signature")
    if not given or not signatures:
        return "sign the request (RFC 9421): Signature-Input and Signature headers are missing"
    try:
        inputs, values = parse_dictionary(given), parse_dictionary(signatures)
    except FieldError as problem:
        return f"Signature-Input or Signature is not a structured field: {problem}"
    for label, member in inputs.items():
        if isinstance(member, InnerList) and isinstance(member.params.get("keyid"), str):
            return _signature(label, member, values.get(label))
    return "Signature-Input has no signature with a keyid"


def _signature(label: str, member: InnerList, value: Item | InnerList | None) -> Signature | str:
    if not isinstance(value, Item) or not isinstance(value.value, bytes):
        return f"Signature has no byte sequence for {label!r}"
    problem = _params_problem(member.params)
    covered = _covered(member)
    if problem or isinstance(covered, str):
        return problem or str(covered)
    params = member.params
    key_id, nonce, created, expires = (
        params["keyid"],
        params["nonce"],
        params["created"],
        params.get("expires"),
    )
    assert isinstance(key_id, str) and isinstance(nonce, str) and isinstance(created, int)
    assert expires is None or isinstance(expires, int)
    return Signature(
        label, key_id, nonce, created, expires, covered, serialize_inner_list(member), value.value
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _params_problem(params: Mapping[str, object]) -> str | None:
    nonce = params.get("nonce")
    problems = (
        (params.get("alg", ALGORITHM) != ALGORITHM, f"alg must be {ALGORITHM}"),
        (not _is_int(params.get("created")), "the signature needs created (unix seconds)"),
        ("expires" in params and not _is_int(params["expires"]), "expires must be unix seconds"),
        (
            not isinstance(nonce, str) or not 8 <= len(nonce) <= 128,
            "the signature needs a nonce of 8 to 128 characters, new for every request",
        ),
    )
    return next((problem for failed, problem in problems if failed), None)


def _covered(member: InnerList) -> tuple[str, ...] | str:
    covered = tuple(item.value for item in member.items if isinstance(item.value, str) and not item.params)
    if len(covered) != len(member.items):
        return "covered components are plain names, without parameters"
    if len(set(covered)) != len(covered):
        return "a component is covered twice"
    missing = [c for c in REQUIRED if c not in covered]
    return f"the signature must cover {' and '.join(missing)}" if missing else covered


def verify(signature: Signature, request: SignedRequest, key: bytes, now: float) -> str | None:
    """None when the signature is the key's over this request and fresh; otherwise why not."""
    if abs(now - signature.created) > WINDOW_SECONDS:
        return "created is outside the 5-minute window"
    if signature.expires is not None and now > signature.expires:
        return "the signature has expired"
    if request.body:
        problem = _digest_problem(signature, request)
        if problem:
            return problem
    base = _base(signature, request)
    if isinstance(base, str):
        return base
    expected = hmac.new(key, base, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature.value):
        return "signature does not match this request"
    return None


def _digest_problem(signature: Signature, request: SignedRequest) -> str | None:
    if "content-digest" not in signature.covered:
        return "a request with a body must cover content-digest (RFC 9530)"
    try:
        digests = parse_dictionary(request.headers.get("content-digest", ""))
    except FieldError:
        return "Content-Digest is not a structured field"
    known = {name: m for name, m in digests.items() if name in _DIGESTS}
    if not known:
        return "Content-Digest needs sha-256 or sha-512"
    for name, member in known.items():
        given = member.value if isinstance(member, Item) else None
        if given != _DIGESTS[name](request.body).digest():
            return "Content-Digest does not match the body"
    return None


def _base(signature: Signature, request: SignedRequest) -> bytes | str:
    """RFC 9421 §2.5: one line per covered component, then @signature-params."""
    lines = []
    for name in signature.covered:
        value = _component(name, request)
        if value is None:
            return f"the request has no {name}"
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {signature.params}')
    return "\n".join(lines).encode()


def _component(name: str, request: SignedRequest) -> str | None:
    if name.startswith("@"):
        if name not in _DERIVED:
            return None
        derived = {
            "@method": request.method.upper(),
            "@path": request.path or "/",
            "@query": "?" + request.query,
            "@authority": request.headers.get("host", "").lower() or None,
        }
        return derived[name]
    value = request.headers.get(name)
    return None if value is None else value.strip(" \t")


def content_digest(body: bytes) -> str:
    """RFC 9530's header value for a body (the simulator and tests use it)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
