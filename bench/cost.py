"""What Tuma costs to run each month on AWS, line by line, in each network mode, next to the SMS bill.

    .venv/bin/python bench/cost.py [--region us-east-1|af-south-1] [--receipts 3000 100000 1000000]
                                   [--sms-price-kes 0.50] [--kes-per-usd 129] [--no-free-tier]

Prices come from bench/prices.toml (each with its source and the date it was read). What one receipt
costs in requests is the `Usage` below: each figure says where it comes from. docs/cost.md explains
the table and what it leaves out. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOURS = 730  # in a month, as AWS bills them
MODES = ("CreateVpc", "CreateVpcNatInstance", "ExistingSubnets")


@dataclass(frozen=True)
class Usage:
    """What the stack does for one receipt (a C2B payment and its SMS) and what it does anyway."""

    # API Gateway: Daraja's confirmation, then the provider's delivery report callback.
    # (Validation callbacks only come when the paybill asked Safaricom for them.)
    api_requests: float = 2
    # Lambda: webhooks twice (callback, report); the sender once per fast-lane batch, which at
    # these rates holds one receipt; the ledger stream (status events) on each change: queued,
    # sent, delivered; the notifier for each event when a status callback URL is configured. The
    # payment stream is not on a Daraja receipt's path (it reads the business's payments table).
    invocations: dict[str, float] = field(
        default_factory=lambda: {
            "webhooks": 2,
            "outbox_sender": 1,
            "status_events": 3,
            "status_notifier": 3,
            "payment_stream": 0,
        }
    )
    # Billed milliseconds per invocation at 512 MB (arm64). The sender and the notifier wait on
    # HTTP; the rest is a few DynamoDB calls. Lambda bills the init phase too: see cold_starts.
    duration_ms: dict[str, float] = field(
        default_factory=lambda: {
            "webhooks": 60,
            "payment_stream": 60,
            "outbox_sender": 400,
            "status_events": 40,
            "status_notifier": 200,
            "reconciler": 150,
            "balance": 400,
        }
    )
    memory_gb: float = 0.5  # Globals.Function.MemorySize in template.yaml
    # Scheduled work, whatever the traffic: ReconcileSchedule rate(1 minute), BalanceCheckSchedule
    # rate(1 hour).
    scheduled_invocations: dict[str, float] = field(
        default_factory=lambda: {"reconciler": 60 * HOURS, "balance": HOURS}
    )
    # Cold starts billed as init time: about one per function per quiet half hour.
    cold_starts_per_month: float = 7 * 2 * HOURS
    init_ms: float = 900
    # SQS: the receipt sent to the fast lane, received and deleted; three status events sent,
    # received, deleted.
    sqs_requests: float = 3 + 3 * 3
    # Lambda's pollers long-poll each SQS event source (OutboxQueue, FastOutboxQueue,
    # StatusEventsQueue) even when idle: about 5 pollers x 3 empty receives a minute each.
    sqs_idle_requests: float = 3 * 5 * 3 * 60 * HOURS
    # DynamoDB write units: the event's claim (1) and payment entry (1 + 2 index copies), the
    # message entry queued (1 + 2) with its recipients record (1), sent (1 + 2) with its `#sent`
    # record (1), delivered (1 + 2), the sender's claim (1), and the guards' counters (the day's and
    # the month's parts, the number's hour: 3). Items are under 1 KB, so one unit each.
    write_units: float = 2 + 3 + 3 + 1 + 3 + 1 + 3 + 1 + 3
    # Read units: the template (cached per container, so rarely), the report's `#sent` record
    # (a consistent read: 1), the status event's entry (0.5), the reconciler's query each minute;
    # the guards' two batched reads of a receipt's fast-lane batch (about 17 small items at 0.5);
    # the suppression list's batched read of the recipient (0.5: absent items are billed too).
    read_units: float = 2 + 8.5 + 0.5
    scheduled_read_units: float = 60 * HOURS * 1
    # Storage: an entry and its two indexes (by-day copies everything) about 2 KB per message,
    # kept LEDGER_TTL_DAYS (180) days: six months of receipts at steady state. The payments table
    # is the business's own; its size is not counted here.
    ledger_kb_per_message: float = 2.0
    ledger_months: float = 6
    # Secrets: the provider credentials, the webhook secret, the API keys, the status events' signing
    # secret, Daraja's and the provider's callback tokens and the privacy key; each container reads
    # those it uses at start and every five minutes while warm, the privacy key once.
    secrets: int = 7
    secret_calls: float = 8 * 12 * HOURS
    # Custom metrics: distinct metric names x the `service` dimension Powertools adds, counted from
    # the code (2026-11-26): about 30.
    custom_metrics: int = 30
    # Alarms are billed per metric they watch: template.yaml's alarms watch 18 (a metric-math alarm
    # counts each metric), without the NAT instance's two; with Observability=lean, 11 (FunctionErrors
    # and ReportsMostlyByPolling are full's only).
    alarm_metrics: int = 18
    lean_alarm_metrics: int = 11
    nat_instance_alarm_metrics: int = 2
    # Observability=lean emits only the metrics its alarms read (runtime.observability.ESSENTIAL_METRICS)
    # and has no dashboard. Counted: the eleven emitted every hour. Those emitted only when something is
    # wrong (ONLY_WHEN_WRONG, and the access log's count of refused Daraja callbacks, which has no
    # DefaultValue) carry data only then, and CloudWatch bills a metric for the hours it receives data.
    lean_custom_metrics: int = 11
    # PaymentsSilent (SilenceAlarmHours > 0, off by default) watches one metric.
    silence_alarm_metrics: int = 1
    dashboards: int = 1
    # Logs: Lambda's START/END/REPORT lines plus Tuma's JSON lines, per invocation.
    log_kb_per_invocation: float = 1.5
    log_retention_months: float = 1  # LogRetentionDays 30
    # X-Ray: Tracing: Active on functions and the API; the default sampling rule keeps one a second
    # and 5% more, so at these rates nearly every request starts a trace: callback, report, sender.
    traces: float = 3
    # The provider call leaves through the NAT: about 4 KB both ways per message (TLS included).
    egress_kb: float = 4
    # Daraja (Daraja=Enabled, optional): the pull job on DarajaPullSchedule rate(15 minutes), each run
    # an OAuth check and a few Pull pages (about 1.5 s waiting on Daraja, outside the VPC: no NAT
    # processing); its secret, read at each cold start and every five minutes while warm; the
    # checkpoint and the shared token in the state table (2 reads, 1 write a run) and one batched
    # read of the payments a run finds (0.5 a row: counted per receipt); its two alarms watch four
    # metrics, and it emits four custom metrics.
    daraja_runs: float = 4 * HOURS
    daraja_duration_ms: float = 1500
    daraja_secret_calls: float = 12 * HOURS
    daraja_read_units_per_run: float = 2
    daraja_write_units_per_run: float = 1
    daraja_read_units_per_receipt: float = 0.5
    daraja_alarm_metrics: int = 5
    daraja_custom_metrics: int = 4


@dataclass(frozen=True)
class Line:
    service: str
    what: str
    usd: float
    estimated_price: bool = False  # a us-east-1 price used for another region


# Permanent free tiers (not the 12-month ones), per account and month: an account that runs other
# workloads may have used them already, hence --no-free-tier.
FREE = {
    "lambda_request": 1_000_000,
    "lambda_arm64_gb_second": 400_000,
    "sqs_request": 1_000_000,
    "cloudwatch_metric_month": 10,
    "cloudwatch_alarm_month": 10,
    "cloudwatch_dashboard_month": 3,
    "cloudwatch_logs_ingest_gb": 5,
    "xray_trace": 100_000,
    "dynamodb_storage_gb_month": 25,
    "sns_publish": 1_000_000,
}

# What each billable CloudFormation resource type of template.yaml (raw and after the SAM
# transform) costs through, by the Line.service names below; tests/unit/test_cost_model.py holds
# the template to this map.
BILLED: dict[str, tuple[str, ...]] = {
    "AWS::Serverless::Function": ("Lambda", "CloudWatch Logs", "X-Ray"),
    "AWS::Lambda::Function": ("Lambda", "CloudWatch Logs", "X-Ray"),
    "AWS::Lambda::EventSourceMapping": ("SQS",),
    "AWS::Serverless::Api": ("API Gateway",),
    "AWS::ApiGateway::RestApi": ("API Gateway",),
    "AWS::ApiGateway::Stage": ("API Gateway", "CloudWatch Logs"),
    "AWS::SQS::Queue": ("SQS",),
    "AWS::DynamoDB::Table": ("DynamoDB",),
    "AWS::SecretsManager::Secret": ("Secrets Manager",),
    "AWS::CloudWatch::Alarm": ("CloudWatch",),
    "AWS::CloudWatch::Dashboard": ("CloudWatch",),
    "AWS::Logs::LogGroup": ("CloudWatch Logs",),
    "AWS::SNS::Topic": ("SNS",),
    "AWS::EC2::NatGateway": ("NAT",),
    "AWS::AutoScaling::AutoScalingGroup": ("NAT",),
    "AWS::EC2::EIP": ("IPv4",),
}
# Resource types that cost nothing by themselves, and why.
FREE_TYPES: dict[str, str] = {
    "AWS::Logs::MetricFilter": "free; the metric it makes is a custom metric (Usage.lean_custom_metrics)",
    "AWS::ApiGateway::Account": "an account setting (the logging role)",
    "Custom::ApiGatewayLoggingRole": "one run of its small function per deploy, within Lambda's free tier",
    "AWS::ApiGateway::Deployment": "a snapshot of the API",
    "AWS::ApiGateway::DomainName": "a regional custom domain: no charge (its ACM certificate is free too)",
    "AWS::ApiGateway::BasePathMapping": "no charge",
    "AWS::Lambda::Permission": "a policy",
    "AWS::Lambda::LayerVersion": "code storage, within Lambda's free 75 GB",
    "AWS::Serverless::LayerVersion": "code storage, within Lambda's free 75 GB",
    "AWS::Events::Rule": "scheduled rules are free; their invocations are under Lambda",
    "AWS::IAM::Role": "IAM is free",
    "AWS::IAM::ManagedPolicy": "IAM is free",
    "AWS::IAM::InstanceProfile": "IAM is free",
    "AWS::SNS::Subscription": "deliveries to SQS are free",
    "AWS::SQS::QueuePolicy": "a policy",
    "AWS::EC2::VPC": "no charge",
    "AWS::EC2::Subnet": "no charge",
    "AWS::EC2::InternetGateway": "no charge",
    "AWS::EC2::VPCGatewayAttachment": "no charge",
    "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::Route": "no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::EC2::VPCEndpoint": "a gateway endpoint (DynamoDB): no charge, and it keeps that traffic off the NAT",
    "AWS::EC2::LaunchTemplate": "no charge; the instances it starts are under NAT",
}


class Prices:
    def __init__(self, region: str, path: Path = HERE / "prices.toml") -> None:
        self.table = tomllib.loads(path.read_text())
        self.region = region

    def __call__(self, name: str) -> tuple[float, bool]:
        """The price in this region, and whether it is a us-east-1 price standing in for it."""
        entry = self.table[name]
        if self.region in entry:
            return float(entry[self.region]), False
        return float(entry["us-east-1"]), self.region != "us-east-1"


def monthly(
    receipts: float,
    mode: str,
    prices: Prices,
    usage: Usage | None = None,
    free_tier: bool = True,
    *,
    daraja: bool = False,
    observability: str = "full",
) -> list[Line]:
    u = usage or Usage()
    lean = observability == "lean"
    lines: list[Line] = []
    daraja_runs = u.daraja_runs if daraja else 0

    def charge(service: str, what: str, price_name: str, quantity: float, per: float = 1) -> None:
        price, estimated = prices(price_name)
        billed = max(0.0, quantity - (FREE.get(price_name, 0) if free_tier else 0))
        lines.append(Line(service, what, billed / per * price, estimated))

    event_invocations = sum(receipts * n for n in u.invocations.values())
    scheduled = sum(u.scheduled_invocations.values()) + daraja_runs
    invocations = event_invocations + scheduled
    charge(
        "API Gateway",
        f"{receipts * u.api_requests:,.0f} REST requests",
        "api_gateway_rest_request",
        receipts * u.api_requests,
        1e6,
    )
    charge("Lambda", f"{invocations:,.0f} invocations", "lambda_request", invocations, 1e6)
    seconds = sum(receipts * n * u.duration_ms[f] / 1000 for f, n in u.invocations.items())
    seconds += sum(n * u.duration_ms[f] / 1000 for f, n in u.scheduled_invocations.items())
    seconds += daraja_runs * u.daraja_duration_ms / 1000
    seconds += u.cold_starts_per_month * u.init_ms / 1000
    charge(
        "Lambda",
        f"{seconds * u.memory_gb:,.0f} GB-s (arm64, init included)",
        "lambda_arm64_gb_second",
        seconds * u.memory_gb,
    )
    sqs = receipts * u.sqs_requests + u.sqs_idle_requests
    charge("SQS", f"{sqs:,.0f} requests (idle polling included)", "sqs_request", sqs, 1e6)
    writes = receipts * u.write_units + daraja_runs * u.daraja_write_units_per_run
    reads = receipts * u.read_units + u.scheduled_read_units + daraja_runs * u.daraja_read_units_per_run
    if daraja:
        reads += receipts * u.daraja_read_units_per_receipt
    charge("DynamoDB", f"{writes:,.0f} write units", "dynamodb_write_request", writes, 1e6)
    charge("DynamoDB", f"{reads:,.0f} read units", "dynamodb_read_request", reads, 1e6)
    stored_gb = receipts * u.ledger_months * u.ledger_kb_per_message / 1024**2
    charge("DynamoDB", f"{stored_gb:,.2f} GB stored (ledger)", "dynamodb_storage_gb_month", stored_gb)
    charge("DynamoDB", f"{stored_gb:,.2f} GB point-in-time recovery", "dynamodb_pitr_gb_month", stored_gb)
    secrets = u.secrets + (1 if daraja else 0)
    secret_calls = u.secret_calls + (u.daraja_secret_calls if daraja else 0)
    charge("Secrets Manager", f"{secrets} secrets", "secrets_manager_secret_month", secrets)
    charge("Secrets Manager", f"{secret_calls:,.0f} reads", "secrets_manager_10k_calls", secret_calls, 1e4)
    metrics = u.lean_custom_metrics if lean else u.custom_metrics + (u.daraja_custom_metrics if daraja else 0)
    metrics += 1 if mode == "CreateVpcNatInstance" else 0  # the NAT instance's own NatForwarding
    charge("CloudWatch", f"{metrics} custom metrics", "cloudwatch_metric_month", metrics)
    alarms = u.lean_alarm_metrics if lean else u.alarm_metrics
    alarms += u.nat_instance_alarm_metrics if mode == "CreateVpcNatInstance" else 0
    alarms += u.daraja_alarm_metrics if daraja else 0
    charge("CloudWatch", f"alarms on {alarms} metrics", "cloudwatch_alarm_month", alarms)
    dashboards = 0 if lean else u.dashboards
    charge("CloudWatch", f"{dashboards} dashboard", "cloudwatch_dashboard_month", dashboards)
    log_gb = (invocations + receipts * u.api_requests) * u.log_kb_per_invocation / 1024**2
    charge("CloudWatch Logs", f"{log_gb:,.2f} GB ingested", "cloudwatch_logs_ingest_gb", log_gb)
    charge(
        "CloudWatch Logs",
        f"{log_gb * u.log_retention_months:,.2f} GB kept",
        "cloudwatch_logs_storage_gb_month",
        log_gb * u.log_retention_months,
    )
    traces = receipts * u.traces + scheduled
    charge("X-Ray", f"{traces:,.0f} traces", "xray_trace", traces, 1e6)
    charge("SNS", "alarm notifications (a few)", "sns_publish", 100, 1e6)
    egress_gb = receipts * u.egress_kb / 1024**2
    if mode == "CreateVpc":
        charge("NAT", f"NAT gateway, {HOURS} h", "nat_gateway_hour", HOURS)
        charge("NAT", f"{egress_gb:,.2f} GB through the NAT gateway", "nat_gateway_gb", egress_gb)
    if mode == "CreateVpcNatInstance":
        charge("NAT", f"t4g.nano NAT instance, {HOURS} h", "ec2_t4g_nano_hour", HOURS)
        charge("NAT", "its 8 GB gp3 disk", "ebs_gp3_gb_month", 8)
    if mode != "ExistingSubnets":
        charge("IPv4", f"the fixed address (Elastic IP), {HOURS} h", "public_ipv4_hour", HOURS)
    return lines


def sms_parts_cost(
    receipts: float, price_kes: float, kes_per_usd: float, parts: int = 1
) -> tuple[float, float]:
    kes = receipts * parts * price_kes
    return kes, kes / kes_per_usd


def template_defaults() -> dict[str, str]:
    """NetworkMode's and Observability's defaults, read from template.yaml so that they cannot drift."""
    from tuma_cli.local.template import load

    parameters = load(HERE.parent / "template.yaml")["Parameters"]
    return {name: str(parameters[name]["Default"]) for name in ("NetworkMode", "Observability")}


def _money(usd: float) -> str:
    return f"{usd:>10,.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--receipts", type=int, nargs="+", default=[3_000, 100_000, 1_000_000])
    parser.add_argument("--sms-price-kes", type=float, default=0.50, help="the brand's price per SMS part")
    parser.add_argument("--kes-per-usd", type=float, default=129.0)
    parser.add_argument(
        "--no-free-tier", action="store_true", help="the account's free tiers are used elsewhere"
    )
    parser.add_argument("--lines", action="store_true", help="every line, not only per service")
    parser.add_argument(
        "--daraja", action="store_true", help="with Daraja=Enabled (the pull job, its secret and alarms)"
    )
    defaults = template_defaults()
    parser.add_argument(
        "--observability",
        choices=("full", "lean"),
        default=defaults["Observability"],
        help="the Observability parameter (default: the template's)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='rows of {"network_mode", "observability", "receipts", "total_usd", "default"}, both '
        "observability choices; default marks what a deploy without those parameters builds",
    )
    args = parser.parse_args()
    if args.json:
        rows = [
            {
                "network_mode": mode,
                "observability": level,
                "receipts": receipts,
                "default": mode == defaults["NetworkMode"] and level == defaults["Observability"],
                "total_usd": round(
                    sum(
                        line.usd
                        for line in monthly(
                            receipts,
                            mode,
                            Prices(args.region),
                            free_tier=not args.no_free_tier,
                            daraja=args.daraja,
                            observability=level,
                        )
                    ),
                    2,
                ),
            }
            for receipts in args.receipts
            for mode in MODES
            for level in ("full", "lean")
        ]
        print(json.dumps(rows, indent=2))
        return 0
    prices = Prices(args.region)
    free_tier = not args.no_free_tier

    print(
        f"Monthly AWS cost in USD, {args.region}, {'with' if free_tier else 'without'} the permanent free tiers, "
        f"Observability={args.observability}"
    )
    print(
        "(prices: bench/prices.toml"
        + ("" if args.region == "us-east-1" else f"; * = us-east-1 price, none found for {args.region}")
        + ")\n"
    )
    for receipts in args.receipts:
        print(f"== {receipts:,} receipts a month ==")
        tables = {
            mode: monthly(
                receipts,
                mode,
                prices,
                free_tier=free_tier,
                daraja=args.daraja,
                observability=args.observability,
            )
            for mode in MODES
        }
        services = list(dict.fromkeys(line.service for lines in tables.values() for line in lines))
        print(f"{'':<28}" + "".join(f"{mode:>22}" for mode in MODES))
        for service in services:
            row = []
            for mode in MODES:
                chosen = [line for line in tables[mode] if line.service == service]
                star = "*" if any(line.estimated_price for line in chosen) else " "
                row.append(f"{sum(line.usd for line in chosen):>21,.2f}{star}" if chosen else f"{'-':>22}")
            print(f"{service:<28}" + "".join(row))
            if args.lines:
                shown = {
                    (line.what, line.usd): line
                    for mode in MODES
                    for line in tables[mode]
                    if line.service == service
                }
                for what, usd in shown:
                    print(f"    {what:<60} {_money(usd)}")
        totals = {mode: sum(line.usd for line in tables[mode]) for mode in MODES}
        print(f"{'AWS total':<28}" + "".join(f"{totals[m]:>21,.2f} " for m in MODES))
        print(
            f"{'per 1,000 receipts':<28}" + "".join(f"{1000 * totals[m] / receipts:>21,.3f} " for m in MODES)
        )
        kes, usd = sms_parts_cost(receipts, args.sms_price_kes, args.kes_per_usd)
        print(
            f"SMS at KES {args.sms_price_kes:.2f} a part (1 part a receipt): KES {kes:,.0f} = USD {usd:,.2f}; "
            f"AWS is {100 * totals['CreateVpcNatInstance'] / usd:.0f}% of it with a NAT instance, "
            f"{100 * totals['CreateVpc'] / usd:.0f}% with a NAT gateway\n"
        )
    saving = (
        prices("nat_gateway_hour")[0] * HOURS
        - prices("ec2_t4g_nano_hour")[0] * HOURS
        - prices("ebs_gp3_gb_month")[0] * 8
    )
    print(
        f"NAT instance instead of NAT gateway saves USD {saving:,.2f} a month before traffic "
        f"(the fixed IPv4 address, USD {prices('public_ipv4_hour')[0] * HOURS:.2f}, is paid in both)."
    )
    for receipts in args.receipts:
        extra = {
            on: sum(
                line.usd
                for line in monthly(receipts, "CreateVpcNatInstance", prices, free_tier=free_tier, daraja=on)
            )
            for on in (False, True)
        }
        print(
            f"Daraja pull (every 15 minutes, outside the VPC) at {receipts:,} receipts: "
            f"USD {extra[True] - extra[False]:,.2f} a month" + (" (included above)" if args.daraja else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
