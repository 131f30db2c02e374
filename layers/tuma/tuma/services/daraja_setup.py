"""Registering Tuma with Daraja, and asking M-Pesa about one receipt: what `tuma daraja` and the
console do, without knowing how Daraja is reached.

Safaricom's traps, each turned into a line an operator can act on: a second registration answers
"already registered" (that is success); an app with the other Register URL product answers
401.003.01; production callback URLs must be https and free of the words Safaricom refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tuma.models.daraja import DarajaFailure, Registration

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.ports import DarajaSetup

# Safaricom's Register URL documentation, "URL Requirements" (docs/design.md quotes it): "Avoid using
# keywords such as M-PESA, M-Pesa, Safaricom, exe, exec, cmd, SQL, query, or any of their variants".
FORBIDDEN_WORDS = ("m-pesa", "mpesa", "safaricom", "exec", "exe", "cmd", "sql", "query")

# The webhook routes Daraja calls (functions/webhooks declares them; docs/design.md lists them).
CONFIRMATION_PATH = "/payments/c2b/confirmation/{token}"
VALIDATION_PATH = "/payments/c2b/validation/{token}"
STK_PATH = "/payments/stk/{token}"
STATUS_RESULT_PATH = "/payments/status-results/{token}"
PULL_PATH = "/payments/pull/{token}"


@dataclass(frozen=True)
class CallbackUrls:
    confirmation: str
    validation: str
    stk: str
    status_result: str
    pull: str

    @classmethod
    def at(cls, base_url: str, token: str) -> CallbackUrls:
        base = base_url.rstrip("/")
        return cls(
            base + CONFIRMATION_PATH.format(token=token),
            base + VALIDATION_PATH.format(token=token),
            base + STK_PATH.format(token=token),
            base + STATUS_RESULT_PATH.format(token=token),
            base + PULL_PATH.format(token=token),
        )


CUSTOM_DOMAIN_FIX = (
    "deploy with CustomDomainName=pay.example.co.ke (a name of yours without those words) and "
    "CustomDomainCertificateArn=<its ACM certificate>, add the CustomDomainDnsRecord output at your DNS "
    "host, then run tuma daraja register again"
)
URL_TESTERS = ("ngrok", "mockbin", "requestbin")


def url_problems(url: str, token: str = "", *, local: bool = False) -> list[tuple[str, str]]:
    """Safaricom's URL rules (Register URL, "URL Requirements") that `url` breaks, each with its fix:
    the URL is refused before Daraja sees it, since Daraja may accept it and then never call it. The
    token itself is random and not checked; `local` lets the simulator's loopback URLs through."""
    split = urlsplit(url)
    host = (split.hostname or "").lower()
    path = (split.path.replace(token, "") if token else split.path).lower()
    if local and _loopback(host):
        return []
    return [(rule, fix) for broken, rule, fix in _rules(split.scheme, host, path) if broken]


def _rules(scheme: str, host: str, path: str) -> tuple[tuple[bool, str, str], ...]:
    address = _address(host)
    word, where = _forbidden_word(host, path)
    return (
        (scheme != "https", "production URLs must be HTTPS", "give the webhooks API an https:// URL"),
        (
            address is not None and not address.is_global,
            "the host must be publicly reachable",
            "use the stack's public URL or its custom domain",
        ),
        (
            bool(word),
            f"the {where} contains {word!r}, a word Safaricom refuses in callback URLs",
            CUSTOM_DOMAIN_FIX,
        ),
        (
            any(tester in host for tester in URL_TESTERS),
            "public URL testers (ngrok, mockbin, requestbin) are blocked",
            CUSTOM_DOMAIN_FIX,
        ),
    )


def _forbidden_word(host: str, path: str) -> tuple[str, str]:
    """The first of Safaricom's refused words in the host, or else in the path ("" when none)."""
    for place, text in (("host", host), ("path", path)):
        word = next((w for w in FORBIDDEN_WORDS if w in text), "")
        if word:
            return word, place
    return "", ""


def _loopback(host: str) -> bool:
    address = _address(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def _address(host: str) -> IPv4Address | IPv6Address | None:
    import ipaddress

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Step:
    short_code: str
    call: str  # "Register URL v2", "Pull register"
    result: Registration


def register(
    daraja: DarajaSetup,
    credentials: DarajaCredentials,
    urls: CallbackUrls,
    *,
    version: str,
    response_type: str,
) -> list[Step]:
    """Register the C2B URLs and Pull for every short code; a second run registers nothing new."""
    steps: list[Step] = []
    for code in credentials.short_codes:
        steps.append(
            Step(
                code,
                f"Register URL {version}",
                _safely(
                    daraja.register_urls, code, version, response_type, urls.confirmation, urls.validation
                ),
            )
        )
        if credentials.nominated_number:
            steps.append(
                Step(
                    code,
                    "Pull register",
                    _safely(daraja.register_pull, code, credentials.nominated_number, urls.pull),
                )
            )
        else:
            steps.append(
                Step(
                    code,
                    "Pull register",
                    Registration(
                        "refused",
                        "no nominated_number in the Daraja secret",
                        None,
                        "put the Safaricom number nominated for Pull (nominated_number) in the Daraja secret",
                    ),
                )
            )
    return steps


def _safely(call: Callable[..., Registration], *args: str) -> Registration:
    try:
        return call(*args)
    except DarajaFailure as failure:
        fix = (
            "check DarajaBaseUrl and the consumer key and secret"
            if failure.kind in ("oauth", "unreachable")
            else None
        )
        return Registration("refused", failure.description, failure.code, fix)
