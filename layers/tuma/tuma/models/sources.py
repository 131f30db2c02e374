"""The ledger's `source`, one vocabulary: how Tuma learnt of a payment, or which part of Tuma wrote
its own message. Template routing, the console's filters and the finance view read it from here;
a business's own label on an outbox message (`OutboxMessage.source`) is kept as it wrote it.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentSource(StrEnum):
    """How Tuma learnt of a payment: the one vocabulary of the ledger's `source`, template routing,
    the console's filters and the finance view."""

    C2B = "c2b"  # Daraja's C2B confirmation callback
    STK = "stk"  # Daraja's STK Push callback
    PULL = "pull"  # Daraja's Pull Transactions, when no callback had brought it
    STATUS_QUERY = "status-query"  # Daraja's Transaction Status, asked for one receipt
    PAYMENTS_API = "payments-api"  # POST /payments from the business's own systems
    PAYMENTS_TABLE = "payments-table"  # a row of the payments table (its stream)
    OUTBOX = "outbox"  # a receipt put on the outbox queue directly

    @property
    def learnt_by(self) -> str:
        """The finance view's words for it: callback, pull, status query, or the business's system."""
        return {
            PaymentSource.C2B: "callback",
            PaymentSource.STK: "callback",
            PaymentSource.PULL: "pull",
            PaymentSource.STATUS_QUERY: "status query",
        }.get(self, "your system")


class OwnSource(StrEnum):
    """Messages Tuma writes itself, for the business's own people."""

    ALERTS_API = "alerts-api"  # POST /alerts from the business's monitoring
    CLOUDWATCH = "cloudwatch"  # a CloudWatch alarm, through SNS
    BALANCE_MONITOR = "balance-monitor"  # the provider's credit fell below the threshold
    FAILOVER = "outbox-sender"  # the sender moved traffic to the other provider, or back
    GUARD = "guard"  # a guard's own alert (a cap reached): never held by what it reports
    CONSOLE_RESEND = "console-resend"  # customer care resent a message from the console
    DOCTOR = "doctor"  # tuma doctor --test-sms: one SMS to the operator's own phone, to prove the sender ID


# Every source the ledger's entries name, payments first (the console's filter lists them in order).
LEDGER_SOURCES = (*(s.value for s in PaymentSource), *(s.value for s in OwnSource))
