"""`tuma doctor`: after a deploy, and at any time, a checklist an operator can read. Each item is ✓, !
(works, but should be mended) or ✗, and each ! and ✗ says how to mend it. It exits 1 when anything is
✗ (2 when the stack cannot be read).

Against a deployed stack (`--stack NAME`, with the operator's AWS credentials) it checks what only a
real account shows: the secrets filled in, the provider reachable from the fixed egress (by invoking
the deployed balance monitor, so the real path is the one tested), the credit, the delivery-report
callback, the Powertools layer, the payments stream's view type, the account's concurrency headroom,
dead letters; with `--test-alarm`, that an alarm really reaches the outbox. Against `tuma local up`
(`--local`) the same checks run on the local topology.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TextIO

from tuma_cli import stack
from tuma_cli.doctor_checks import (
    FINAL_STATUSES,
    SECRETS,
    Check,
    alarm_recipients_check,
    alarm_verdict,
    api_keys_check,
    callback_token_check,
    daraja_urls_check,
    https_check,
    pull_clock_check,
    secret_check,
    short_codes_check,
)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
# Queues whose messages mean something gave up: (output, local logical id, what waits there).
DEAD_LETTERS = (
    ("OutboxDeadLetterQueueUrl", "OutboxDeadLetterQueue", "outbox messages"),
    ("PaymentStreamFailureQueueUrl", "PaymentStreamFailureQueue", "payments-table changes"),
    ("StatusEventsDeadLetterQueueUrl", "StatusEventsDeadLetterQueue", "status events"),
    ("ScheduleDeadLetterQueueUrl", "BalanceMonitorDeadLetterQueue", "scheduled runs"),
)
TEST_ALARM = "AlarmDeliveryTest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--test-alarm",
        action="store_true",
        help="set the AlarmDeliveryTest alarm to ALARM and wait for its notification to reach the outbox",
    )
    parser.add_argument(
        "--test-sms",
        metavar="NUMBER",
        help="send one SMS to this number (your own phone) through the stack: proves the sender ID",
    )
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the test alarm or SMS")


class Doctor:
    def __init__(self, found: stack.Stack) -> None:
        self.found = found
        self.local = found.endpoint is not None
        self._invoked: dict[str, Any] | None = None

    # -- the checklist ----------------------------------------------------------------------------

    def run(self, test_alarm: bool = False, wait: float = 120.0, test_sms: str | None = None) -> list[Check]:
        checks: list[Check] = []
        for name, what, keys in SECRETS:
            checks += self._guarded(what, partial(secret_check, self.found, name, what, keys))
        for caller in ("daraja", "provider"):
            checks += self._guarded(
                f"{caller} callback token", partial(callback_token_check, self.found, caller)
            )
        checks += self._guarded("API keys", partial(api_keys_check, self.found))
        checks += self._guarded("HTTPS only", partial(https_check, self.found))
        checks += self._guarded("alarm recipients", partial(alarm_recipients_check, self.found))
        checks += self._guarded("business short codes", partial(short_codes_check, self.found))
        checks += self._guarded("Daraja URLs", partial(daraja_urls_check, self.found))
        checks += self._guarded("Daraja's clock", partial(pull_clock_check, self.found))
        checks += self._guarded("provider reachable from the fixed egress", self.provider)
        checks += self._guarded("credit", self.credit)
        checks += self._guarded("delivery reports by callback", self.delivery_reports)
        checks += self._guarded("Powertools layer", self.powertools)
        checks += self._guarded("payments stream", self.payments_stream)
        checks += self._guarded("concurrency headroom", self.concurrency)
        checks += self._guarded("dead letters", self.dead_letters)
        if test_alarm:
            checks += self._guarded("alarm delivery", lambda: [self.alarm_delivery(wait)])
        if test_sms:
            from tuma_cli.doctor_sms import test_sms_check

            checks += self._guarded("sender ID", partial(test_sms_check, self.found, test_sms, wait))
        return checks

    def _guarded(self, what: str, check: Callable[[], list[Check] | Check | None]) -> list[Check]:
        """A check that cannot even be made is itself a ✗, with what stopped it."""
        from botocore.exceptions import BotoCoreError, ClientError
        from tuma.errors import Unavailable

        try:
            result = check()
        except (ClientError, BotoCoreError, Unavailable, stack.Unconfigured) as exc:
            code = (
                getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if hasattr(exc, "response")
                else ""
            )
            return [
                Check(
                    what,
                    False,
                    f"could not be checked: {type(exc).__name__}{' ' + code if code else ''}",
                    "check your AWS credentials can read the stack (attach the stack's OperatorPolicyArn)"
                    if code in ("AccessDenied", "AccessDeniedException")
                    else None,
                )
            ]
        if result is None:
            return []
        return result if isinstance(result, list) else [result]

    # -- the provider, through the deployed balance monitor ---------------------------------------

    def _balance(self) -> dict[str, Any]:
        if self._invoked is None:
            function = "balance_monitor" if self.local else self.found.physical_id("BalanceMonitorFunction")
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resources": [],
                "detail": {"invoked_by": "tuma doctor"},
            }
            answer = self.found.lambda_client().invoke(
                FunctionName=function, Payload=json.dumps(event).encode()
            )
            payload = json.loads(answer["Payload"].read() or b"null")
            self._invoked = {"error": answer.get("FunctionError"), "payload": payload}
        return self._invoked

    def provider(self) -> Check:
        invoked = self._balance()
        if invoked["error"]:
            message = str((invoked["payload"] or {}).get("errorMessage", ""))[:200]
            timeout = "timed out" in message.lower() or "timeout" in message.lower()
            fix = (
                "the provider does not answer from the fixed egress: allowlist ProviderEgressIp in its portal, "
                "and check the NAT (NatNotForwarding alarm)"
                if timeout
                else "read the balance_monitor log; 1006 means the apikey or partnerID is wrong, 1001 the sender id"
            )
            return Check(
                "provider reachable from the fixed egress",
                False,
                f"the balance monitor failed: {message}",
                fix,
            )
        return Check(
            "provider reachable from the fixed egress",
            True,
            "the deployed balance monitor read the credit"
            if not self.local
            else "the balance monitor read the credit",
        )

    def credit(self) -> Check:
        invoked = self._balance()
        if invoked["error"]:
            return Check(
                "credit", False, "unknown: the provider could not be asked", "mend the check above first"
            )
        payload = invoked["payload"] or {}
        low = bool(payload.get("low"))
        return Check(
            "credit",
            not low,
            f"{payload.get('credit')} units" + (" (below LowCreditThreshold)" if low else ""),
            "top up the SMS credit in the provider's portal" if low else None,
        )

    # -- what the ledger says ----------------------------------------------------------------------

    def delivery_reports(self) -> Check:
        from tuma.adapters.dynamodb_ledger_views import LedgerViews
        from tuma.formatting.clock import EAT

        ledger = LedgerViews(self.found.client("dynamodb"), self.found.table("ledger"))
        now = datetime.now(UTC)
        callback = polling = 0
        for day in sorted({(now - timedelta(hours=24)).astimezone(EAT).date(), now.astimezone(EAT).date()}):
            start = None
            while True:
                page, start = ledger.by_day(day.isoformat(), limit=500, start=start)
                callback += sum(1 for e in page if e.final_via == "callback")
                polling += sum(1 for e in page if e.final_via == "polling")
                if start is None:
                    break
        total = callback + polling
        if total == 0:
            return Check(
                "delivery reports by callback", True, "no final delivery report in the last 24 hours yet"
            )
        share = 100 * polling / total
        ok = total < 20 or share <= 50
        return Check(
            "delivery reports by callback",
            ok,
            f"{callback} by callback, {polling} by polling in the last 24 hours ({share:.0f}% by polling)",
            None
            if ok
            else "set DeliveryReportsUrl (token substituted) as the callback URL in the provider's portal",
        )

    # -- the deployed configuration ----------------------------------------------------------------

    def powertools(self) -> Check:
        from aws_lambda_powertools.shared.version import VERSION
        from tuma.runtime.powertools_version import TESTED

        if self.local:
            ok = VERSION == TESTED
            return Check(
                "Powertools layer",
                ok,
                f"{VERSION} installed; the tests ran on {TESTED}",
                None if ok else "make install (the pins of pyproject.toml)",
            )
        parameter = f"/aws/service/powertools/python/arm64/python3.13/{TESTED}"
        expected = self.found.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
        function = self.found.physical_id("BalanceMonitorFunction")
        layers = (
            self.found.lambda_client().get_function_configuration(FunctionName=function).get("Layers", [])
        )
        running = layers[0]["Arn"] if layers else "none"
        ok = running == expected
        return Check(
            "Powertools layer",
            ok,
            f"{running.rsplit(':', 2)[-2] if ':' in running else running} (tested: {TESTED})",
            None if ok else f"deploy with PowertoolsLayer={parameter}",
        )

    def payments_stream(self) -> Check:
        existing = self.found.parameters.get("ExistingPaymentsStreamArn", "")
        if existing:
            description = self.found.client("dynamodbstreams").describe_stream(StreamArn=existing)
            view = description["StreamDescription"].get("StreamViewType", "?")
            where = "your payments table's stream"
        else:
            table = self.found.tables.get("payments")
            if not table:
                return Check("payments stream", True, "no payments table in this stack")
            description = self.found.client("dynamodb").describe_table(TableName=table)
            view = description["Table"].get("StreamSpecification", {}).get("StreamViewType", "none")
            where = "the payments table's stream"
        ok = view == "NEW_AND_OLD_IMAGES"
        return Check(
            "payments stream",
            ok,
            f"{where} is {view}",
            None
            if ok
            else "set the table's StreamViewType to NEW_AND_OLD_IMAGES (aws dynamodb update-table --stream-specification "
            "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES) and deploy with the new stream's ARN",
        )

    def concurrency(self) -> Check:
        if self.local:
            return Check("concurrency headroom", True, "no account quota locally")
        limits = self.found.lambda_client().get_account_settings()["AccountLimit"]
        total, unreserved = int(limits["ConcurrentExecutions"]), int(limits["UnreservedConcurrentExecutions"])
        needed = (
            int(self.found.parameters.get("ProviderMaxConcurrency", "4")) + 4
        )  # senders, webhooks, the rest
        ok = unreserved >= needed
        return Check(
            "concurrency headroom",
            ok,
            f"{unreserved} of the account's {total} concurrent executions unreserved; the stack may need {needed} at once",
            None
            if ok
            else "ask AWS for the standard Lambda concurrency quota (Service Quotas: Concurrent executions, 1,000), "
            "or lower FunctionConcurrencyCap",
        )

    def dead_letters(self) -> Check:
        waiting = []
        for output, logical, what in DEAD_LETTERS:
            url = self.found.queue_url(logical, output)
            if not url:
                continue
            attributes = self.found.client("sqs").get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            count = int(attributes["ApproximateNumberOfMessages"])
            if count:
                waiting.append(f"{count} {what}")
        return Check(
            "dead letters",
            not waiting,
            ", ".join(waiting) + " waiting" if waiting else "none waiting",
            "fix the cause (the function's log says it), then redrive from the console's Health page"
            if waiting
            else None,
        )

    # -- an alarm, end to end ----------------------------------------------------------------------

    def alarm_delivery(self, wait: float) -> Check:
        from tuma.adapters.dynamodb_ledger_views import LedgerViews
        from tuma.formatting.clock import EAT

        name = f"{self.found.stack_name}-{TEST_ALARM}"
        started = datetime.now(UTC)
        if self.local:
            # moto's CloudWatch sets states without acting: the notification goes to the topic, as CloudWatch's would.
            notification = {
                "AlarmName": name,
                "AlarmDescription": "tuma doctor: testing that alarms reach the outbox",
                "NewStateValue": "ALARM",
                "NewStateReason": "tuma doctor --test-alarm",
                "StateChangeTime": started.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "Region": self.found.region or "us-east-1",
                "OldStateValue": "OK",
            }
            topic = self.found.ready["topics"]["AlarmTopic"]
            self.found.client("sns").publish(TopicArn=topic, Message=json.dumps(notification))
        else:
            self.found.client("cloudwatch").set_alarm_state(
                AlarmName=name,
                StateValue="ALARM",
                StateReason="tuma doctor --test-alarm: testing alarm delivery",
            )
        ledger = LedgerViews(self.found.client("dynamodb"), self.found.table("ledger"))
        prefix = f"alarm:{name}:ALARM"
        deadline = time.monotonic() + wait
        entry = None
        # The SMS is proven by its delivery report, not by the outbox: wait for DELIVERED (or a
        # final failure) as long as `wait` allows, and say plainly when none came.
        while time.monotonic() < deadline and (entry is None or entry.status.value not in FINAL_STATUSES):
            time.sleep(2)
            page, _ = ledger.by_day(datetime.now(UTC).astimezone(EAT).date().isoformat(), limit=200)
            entry = next(
                (e for e in page if e.idempotency_key.startswith(prefix) and e.updated_at >= started), entry
            )
        return alarm_verdict(name, entry, started, wait)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        found = stack.locate(args)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    checks = Doctor(found).run(test_alarm=args.test_alarm, wait=args.wait, test_sms=args.test_sms)
    failed = [c for c in checks if not c.ok]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2), file=out)
    else:
        where = "the local topology" if found.endpoint else f"stack {found.stack_name}"
        print(f"tuma doctor: {where}", file=out)
        for check in checks:
            print(f"{check.mark} {check.name}: {check.detail}", file=out)
            if check.fix:
                print(f"    fix: {check.fix}", file=out)
        warned = sum(1 for c in checks if c.ok and c.warning)
        print(
            f"{len(checks)} checks: {len(checks) - len(failed) - warned} ✓, {warned} !, {len(failed)} ✗",
            file=out,
        )
    return EXIT_FAILED if failed else EXIT_OK
