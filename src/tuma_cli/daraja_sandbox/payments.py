"""What the Daraja simulator keeps: its app's settings (and the secret Tuma needs to talk to it), the
payments customers made, and the POSTs it is to make later (confirmations, Transaction Status
answers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tuma.formatting.clock import EAT

CALLBACK_MODES = ("deliver", "drop", "late")


@dataclass
class DarajaSimulatorSettings:
    consumer_key: str = "sandbox-daraja-consumer-key"
    consumer_secret: str = "sandbox-daraja-consumer-secret"  # noqa: S105 - a simulator's fixed value
    short_codes: tuple[str, ...] = ("600000",)
    nominated_number: str = "254722000000"
    initiator_name: str = "tuma-api-operator"
    # The initiator's password: Transaction Status takes it only encrypted with the simulator's
    # certificate (GET /_sandbox/certificate), as Daraja takes it encrypted with Safaricom's.
    initiator_password: str = "Sandbox-Initiator-1!"  # noqa: S105 - a simulator's fixed value
    security_credential: str = ""  # what the secret holds until `tuma daraja credential` replaces it
    organization_name: str = "Tuma Sandbox Ltd"
    api_product: str = "v2"  # the Register URL product of the app: the other version answers 401.003.01
    token_seconds: int = 3599
    page_size: int = 3  # Pull rows per page: small, so that paging is exercised
    late_seconds: float = 5.0  # a `late` payment's confirmation is posted this long after it was made
    result_delay: float = 0.3  # Transaction Status answers come this long after the request
    # How Pull writes `trxDate` and reads StartDate/EndDate: "kenya" (Kenyan time, with the `Z` of
    # Safaricom's sample, as integrators see it), "utc" (a true UTC time) or "offset" (`+03:00`).
    trx_dates: str = "kenya"

    def secret(self) -> dict[str, Any]:
        """What goes in Tuma's Daraja secret to talk to this simulator."""
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "short_codes": list(self.short_codes),
            "nominated_number": self.nominated_number,
            "initiator_name": self.initiator_name,
            "security_credential": self.security_credential,
        }


@dataclass
class CustomerPayment:
    TransID: str
    TransAmount: str
    MSISDN: str
    BillRefNumber: str
    BusinessShortCode: str
    FirstName: str
    callback: str
    made_at: float  # unix seconds
    posted: bool = False
    post_failed: bool = False
    # What this payment's callback and Pull row say differently from the payment itself (a masked
    # MSISDN in the callback, a malformed field in the row): fields replaced as given.
    callback_fields: dict[str, Any] = field(default_factory=dict)
    row_fields: dict[str, Any] = field(default_factory=dict)

    def confirmation(self) -> dict[str, Any]:
        """The C2B confirmation Daraja posts for it."""
        return {
            "TransactionType": "Pay Bill",
            "TransID": self.TransID,
            "TransTime": datetime.fromtimestamp(self.made_at, EAT).strftime("%Y%m%d%H%M%S"),
            "TransAmount": self.TransAmount,
            "BusinessShortCode": self.BusinessShortCode,
            "BillRefNumber": self.BillRefNumber,
            "InvoiceNumber": "",
            "OrgAccountBalance": "",
            "ThirdPartyTransID": "",
            "MSISDN": self.MSISDN,
            "FirstName": self.FirstName,
            "MiddleName": "",
            "LastName": "",
        } | self.callback_fields

    def pulled(self, organization: str, trx_dates: str = "kenya") -> dict[str, Any]:
        """The row Pull Transactions lists for it."""
        return {
            "transactionId": self.TransID,
            "trxDate": trx_date(self.made_at, trx_dates),
            "msisdn": self.MSISDN,
            "sender": self.FirstName,
            "transactiontype": "c2b-pay-bill-debit",
            "billreference": self.BillRefNumber,
            "amount": self.TransAmount,
            "organizationname": organization,
        } | self.row_fields


TRX_DATES = ("kenya", "utc", "offset")


def trx_date(moment: float, style: str) -> str:
    if style == "utc":
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kenyan = datetime.fromtimestamp(moment, EAT)
    return kenyan.strftime("%Y-%m-%dT%H:%M:%S") + ("+03:00" if style == "offset" else "Z")


@dataclass
class Outgoing:
    """A POST the simulator makes later: a confirmation, or a Transaction Status answer."""

    url: str
    body: dict[str, Any]
    at: float
    payment: CustomerPayment | None = None
