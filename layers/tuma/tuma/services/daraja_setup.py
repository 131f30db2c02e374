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
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.ports import DarajaSetup

# Safaricom: "Avoid using keywords such as M-PESA, M-Pesa, Safaricom, exe, exec, cmd, SQL, query".
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


def url_warnings(url: str, token: str = "") -> list[str]:
    """What Safaricom's URL rules would say of `url` (the token itself is random and not checked)."""
    split = urlsplit(url)
    warnings = []
    if split.scheme != "https":
        warnings.append("not https: Safaricom accepts only https callback URLs in production")
    host, path = split.netloc.lower(), split.path.replace(token, "").lower() if token else split.path.lower()
    for word in FORBIDDEN_WORDS:
        if word in path:
            warnings.append(f"the path contains {word!r}, a word Safaricom refuses in callback URLs")
            break
    for word in FORBIDDEN_WORDS:
        if word in host:
            warnings.append(
                f"the host contains {word!r} ({split.netloc}): Safaricom's rule names it; if registration "
                "is refused or callbacks never arrive, put the webhooks API behind a custom domain"
            )
            break
    return warnings


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
