"""What `tuma doctor` checks of the stack's secrets: each filled in (not the placeholder, long
enough), and each caller's own path token no longer shared with the stack's first one; the API keys,
HTTPS and who hears the alarms; of Daraja: the business's short codes, and whether the pull reads
M-Pesa's times on the right clock; and what the test alarm's ledger entry proves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

from tuma_cli import stack

PLACEHOLDER = "REPLACE_ME"
# The stack's secrets: (name in tuma_cli.stack.SECRETS, what it is, the keys it must hold).
SECRETS = (
    ("credentials", "provider credentials secret", ("apikey", "partnerID", "shortcode")),
    ("secondary", "second provider's credentials secret", ("apikey", "partnerID", "shortcode")),
    ("webhook", "webhook secret", ("path_token",)),
    ("daraja", "Daraja secret", ("consumer_key", "consumer_secret", "short_codes")),
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    warning: bool = False  # works today, but an operator should act (shown !, does not fail the run)

    @property
    def mark(self) -> str:
        if not self.ok:
            return "✗"
        return "!" if self.warning else "✓"


def secret_check(found: stack.Stack, name: str, what: str, keys: tuple[str, ...]) -> Check | None:
    output, logical = stack.SECRETS[name]
    where = found.outputs.get(output) or found.ready.get("secrets", {}).get(logical)
    if not where:
        return None  # this stack has no such secret (no secondary provider, no Daraja)
    problems = _secret_problems(found.secret(name), keys)
    if not problems:
        return Check(what, True, f"filled in ({', '.join(keys)})")
    shape = json.dumps(dict.fromkeys(keys, "…"), ensure_ascii=False)
    fix = f"aws secretsmanager put-secret-value --secret-id {where} --secret-string '{shape}'"
    return Check(what, False, "; ".join(problems), fix)


def callback_token_check(found: stack.Stack, caller: str) -> Check:
    """A caller's own path token, and whether the stack's first token (the stack id's UUID, which
    anyone who reads the account's tags can see) is still accepted in its place."""
    from pydantic import ValidationError
    from tuma.models.callback_tokens import CallbackToken

    what = f"{caller} callback token"
    try:
        token = CallbackToken.model_validate(found.secret(f"{caller}_callback"))
    except ValidationError:
        return Check(what, False, "no token of 32+ characters", f"tuma secrets rotate {caller}")
    if token.legacy:
        return Check(
            what,
            True,
            "the stack's first token (its id's UUID, visible in the account's tags) is still accepted",
            f"tuma secrets rotate {caller}",
            warning=True,
        )
    return Check(what, True, "its own, random; the stack's first token is no longer accepted")


URL_PARAMETERS = ("ProviderBaseUrl", "SecondaryProviderBaseUrl", "DarajaBaseUrl", "StatusCallbackUrl")


def https_check(found: stack.Stack) -> Check:
    """The URLs credentials, payments and status events travel to: HTTPS (a stack deployed before the
    template refused http:// may still have one)."""
    import re

    from tuma.runtime.settings import HTTPS_URL

    plain = [
        name
        for name in URL_PARAMETERS
        if (value := found.parameters.get(name)) and not re.match(HTTPS_URL, value)
    ]
    if plain:
        return Check(
            "HTTPS only",
            False,
            f"{', '.join(plain)} {'is' if len(plain) == 1 else 'are'} plain http://: credentials or customers' data travel unencrypted",
            f"deploy with {plain[0]}=https://…",
        )
    here = any(str(found.parameters.get(name, "")).startswith("http://") for name in URL_PARAMETERS)
    detail = "the provider's, Daraja's and the status receiver's URLs are https://"
    return Check("HTTPS only", True, detail + (" (plain http only to this machine)" if here else ""))


def alarm_recipients_check(found: stack.Stack) -> Check:
    """Somebody hears the alarms: by SMS (AlertRecipients), by e-mail (AlarmEmail), or both."""
    numbers = found.parameters.get("AlertRecipients", "").strip()
    email = found.parameters.get("AlarmEmail", "").strip()
    what = "alarm recipients"
    if not numbers and not email:
        return Check(
            what,
            False,
            "nobody hears the alarms: AlertRecipients and AlarmEmail are both empty",
            "deploy with AlertRecipients=07XXXXXXXX,07YYYYYYYY and AlarmEmail=you@example.co.ke",
        )
    if not numbers:
        return Check(
            what,
            True,
            "alarms reach e-mail only: an operator away from a desk hears nothing",
            "deploy with AlertRecipients=07XXXXXXXX",
            warning=True,
        )
    count = len([n for n in numbers.split(",") if n.strip()])
    return Check(what, True, f"{count} number(s) by SMS{', and e-mail' if email else ''}")


def api_keys_check(found: stack.Stack) -> Check | None:
    """The business's API keys: without one, nothing can call the signed routes."""
    from pydantic import ValidationError
    from tuma.models.api_keys import ApiKey

    output, logical = stack.SECRETS["api_keys"]
    if not (found.outputs.get(output) or found.ready.get("secrets", {}).get(logical)):
        return None
    raw = found.secret("api_keys").get("keys")
    keys: list[ApiKey] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            keys.append(ApiKey.model_validate(item))
        except ValidationError:
            return Check("API keys", False, "a key does not read", "tuma keys list, then fix or revoke it")
    if not keys:
        return Check(
            "API keys",
            True,
            "none yet: your systems cannot call /payments, /alerts, /messages or /suppressions",
            "tuma keys create --scope payments --name 'shop till'",
            warning=True,
        )
    wide = [k.id for k in keys if len(k.scopes) > 2]
    detail = f"{len(keys)} key(s)" + (f"; more than two scopes on {', '.join(wide)}" if wide else "")
    return Check("API keys", True, detail)


def _secret_problems(value: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """What is wrong with a secret's value: a key missing, left as the placeholder, or too short."""
    problems = [f"{k} missing" for k in keys if not value.get(k)]
    problems += [f"{k} is still {PLACEHOLDER}" for k in keys if PLACEHOLDER in json.dumps(value.get(k, ""))]
    short = [k for k in ("path_token",) if k in keys and len(str(value.get(k, ""))) < 16]
    return problems + [f"{k} is shorter than 16 characters" for k in short]


def short_codes_check(found: stack.Stack) -> Check | None:
    """With Daraja: the short codes a payment may be made to (BusinessShortCodes) against the
    Daraja secret's, which the pull reads."""
    output, logical = stack.SECRETS["daraja"]
    if not (found.outputs.get(output) or found.ready.get("secrets", {}).get(logical)):
        return None  # no Daraja: payments come from the business's own systems
    given = {
        code.strip() for code in found.parameters.get("BusinessShortCodes", "").split(",") if code.strip()
    }
    pulled = {str(code) for code in found.secret("daraja").get("short_codes") or []}
    what = "business short codes"
    if not given:
        return Check(
            what,
            False,
            "BusinessShortCodes is empty: a Daraja payment to any short code makes a receipt",
            f"deploy with BusinessShortCodes={','.join(sorted(pulled)) or 'YOUR_PAYBILL'}",
        )
    if given != pulled:
        return Check(
            what,
            True,
            f"BusinessShortCodes {sorted(given)} differs from the Daraja secret's short_codes {sorted(pulled)}",
            "make them the same: the pull reads the secret's, the callbacks are checked against the parameter",
            warning=True,
        )
    return Check(what, True, f"payments to {', '.join(sorted(given))} only")


def daraja_urls_check(found: stack.Stack) -> Check | None:
    """With Daraja: the URLs registered for each short code (as Tuma recorded them) against the
    stack's URLs now; Daraja cannot be asked, and keeps the first ones it was given."""
    output, logical = stack.SECRETS["daraja"]
    if not (found.outputs.get(output) or found.ready.get("secrets", {}).get(logical)):
        return None
    from tuma.adapters.dynamodb_state import DynamoDBStateStore
    from tuma.services.daraja_setup import CallbackUrls
    from tuma.services.daraja_urls import drift

    secret = found.secret("daraja")
    codes = [str(c) for c in secret.get("short_codes") or [] if str(c) != PLACEHOLDER]
    if not codes:
        return None  # the Daraja secret's own check says it is not filled in
    token = str(found.secret("daraja_callback").get("token", ""))
    urls = CallbackUrls.at(found.webhook_base_url(), token)
    records = DynamoDBStateStore(found.client("dynamodb"), found.table("state"))
    return _drift_verdict(codes, drift(codes, bool(secret.get("nominated_number")), urls, records))


def _drift_verdict(codes: list[str], drifts: list[Any]) -> Check:
    from tuma.services.daraja_urls import kept_elsewhere

    what = "Daraja URLs"
    stale = [d for d in drifts if d.recorded is not None and not d.current]
    unknown = [d for d in drifts if d.recorded is None]
    if stale:
        first = stale[0]
        return Check(
            what,
            False,
            f"M-Pesa posts to other URLs than the stack's now ({_calls(stale)}): its callbacks never arrive",
            kept_elsewhere(first.short_code, first.call, first.recorded),
        )
    if unknown:
        return Check(
            what, True, f"no registration recorded ({_calls(unknown)})", "tuma daraja register", warning=True
        )
    when = max(str(d.recorded.get("at", ""))[:10] for d in drifts)
    return Check(what, True, f"M-Pesa calls this stack's URLs for {', '.join(codes)} (registered {when})")


def _calls(drifts: list[Any]) -> str:
    return ", ".join(f"{d.call} for {d.short_code}" for d in drifts)


SKEWED = 3 * 3600 - 600  # seconds: Kenyan time against UTC, less clocks' and Daraja's own lag


def pull_clock_check(found: stack.Stack, days: int = 2) -> Check | None:
    """With Daraja: the time a callback said against the time the pull read for the same payment,
    over the last `days`: three hours apart means DarajaPullTimes is the wrong clock."""
    import statistics
    from datetime import datetime, timedelta

    from tuma.adapters.dynamodb_ledger_views import LedgerViews
    from tuma.formatting.clock import EAT

    try:
        settings = found.daraja()
    except stack.Unconfigured:
        return None
    ledger = LedgerViews(found.client("dynamodb"), found.table("ledger"))
    today = datetime.now(EAT).date()
    skews = [
        skew
        for n in range(days)
        for record in ledger.payments_on((today - timedelta(days=n)).isoformat())
        if (skew := _skew(record)) is not None
    ]
    what, setting = "Daraja's clock", settings.get("pull_times", "kenya")
    if not skews:
        return Check(what, True, f"DarajaPullTimes={setting}; no payment both called back and pulled yet")
    median = statistics.median(skews)
    if abs(median) < SKEWED:
        return Check(
            what,
            True,
            f"callbacks and the pull agree on the time ({len(skews)} payment{'s' if len(skews) != 1 else ''}, "
            f"DarajaPullTimes={setting})",
        )
    other = "utc" if median < 0 else "kenya"
    return Check(
        what,
        False,
        f"the pull reads payments {abs(median) / 3600:.1f} h {'earlier' if median < 0 else 'later'} than their "
        f"callbacks ({len(skews)} payment{'s' if len(skews) != 1 else ''}): Daraja's dates are not on the clock DarajaPullTimes={setting} says",
        f"deploy with DarajaPullTimes={other} (no payment was lost: the pull reads both clocks' windows)",
    )


def _skew(record: dict[str, Any]) -> float | None:
    """Seconds from a callback's time to the pull's, for a payment both reported (whichever came
    first: with a wrong clock the pull may see a payment as hours old, and beat its callback)."""
    from tuma.formatting.clock import parse_time

    if not record.get("pulled_at") or not record.get("called_back_at"):
        return None
    try:
        return (
            parse_time(str(record["pulled_at"])) - parse_time(str(record["called_back_at"]))
        ).total_seconds()
    except ValueError:
        return None


FINAL_STATUSES = {"DELIVERED", "FAILED", "REJECTED", "UNDELIVERABLE", "SUPPRESSED", "EXPIRED"}


def alarm_verdict(name: str, entry: Any, started: datetime, wait: float) -> Check:
    """What the test alarm's ledger entry proves: DELIVERED is proof; SENT alone is said plainly."""
    if entry is None:
        return Check(
            "alarm delivery",
            False,
            f"{name} set to ALARM; no notification reached the outbox in {wait:.0f} s",
            "the alarm topic's subscription to the fast outbox queue, its encryption (no AWS-managed key) and the "
            "queue policy are the path: see AlarmTopic and OutboxQueuePolicy in template.yaml",
        )
    seconds = ((entry.queued_at or entry.updated_at) - started).total_seconds()
    return sms_verdict(
        "alarm delivery", f"{name} reached the outbox in {max(0.0, seconds):.0f} s", entry, wait
    )


def sms_verdict(what: str, took: str, entry: Any, wait: float) -> Check:
    """One SMS's ledger entry: DELIVERED is proof, a final failure a ✗ with its reason, SENT a !."""
    status = entry.status.value
    if status == "DELIVERED":
        return Check(what, True, f"{took} ({status} to {entry.recipient})")
    if status in FINAL_STATUSES:
        reason = f": {entry.reason}" if entry.reason else ""
        return Check(
            what,
            False,
            f"{took}, then {status} to {entry.recipient}{reason}",
            "see the reason; tuma trace shows the story",
        )
    return Check(
        what,
        True,
        f"{took} and was {status} to {entry.recipient}; no delivery report within {wait:.0f} s, so it is not "
        "proven that the phone got it",
        "run again with a longer --wait, or check the phone",
        warning=True,
    )
