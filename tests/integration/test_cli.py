"""`tuma send`, `tuma balance`, `tuma dlr` as a user runs them, against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tuma_cli.sandbox.server import SandboxServer

pytestmark = pytest.mark.integration


def _tuma(sandbox: SandboxServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    settings = sandbox.platform.settings
    environment = (
        {k: v for k, v in os.environ.items() if not k.startswith(("SMS_", "TUMA_", "AWS_"))}
        | {
            "SMS_API_BASE_URL": sandbox.url,
            "TUMA_APIKEY": settings.apikey,
            "TUMA_PARTNER_ID": settings.partner_id,
            "TUMA_SHORTCODE": settings.shortcode,
        }
        | env
    )
    return subprocess.run(
        [sys.executable, "-m", "tuma_cli.main", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_send_reports_each_recipient_and_exits_by_outcome(sandbox: SandboxServer) -> None:
    ok = _tuma(sandbox, "send", "--to", "0712345678,+254 722 000 000", "--text", "Habari “rafiki”", "--json")
    assert ok.returncode == 0, ok.stderr
    rows = [json.loads(line) for line in ok.stdout.splitlines()]
    assert [(r["mobile"], r["status"], r["code"]) for r in rows] == [
        ("2547*****678", "accepted", 200),
        ("2547*****000", "accepted", 200),
    ]
    assert {m["message"] for m in sandbox.platform.outbox_view()} == {'Habari "rafiki"'}

    mixed = _tuma(sandbox, "send", "--to", "0712345409,0712,0722000001", "--text", "x", "--json")
    assert mixed.returncode == 1
    rows = [json.loads(line) for line in mixed.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["rejected", "rejected", "accepted"]
    assert rows[0]["code"] == 1003 and rows[1]["code"] is None
    assert "254712345409" not in mixed.stdout + mixed.stderr


def test_send_otp_route_and_hashed_numbers(sandbox: SandboxServer) -> None:
    digest = "8556a495c390f3ba95d2bdf6d06436f2fd09f516531f0a7cd9591c60812fa46d"
    result = _tuma(sandbox, "send", "--to", f"0712345678,{digest}", "--text", "Code 1234", "--route", "otp")
    assert result.returncode == 0, result.stderr
    assert sorted(m["route"] for m in sandbox.platform.outbox_view()) == ["hashed", "sendotp"]


def test_configuration_errors_exit_2(sandbox: SandboxServer) -> None:
    wrong_key = _tuma(sandbox, "send", "--to", "0712345678", "--text", "x", TUMA_APIKEY="nope-nope")
    assert wrong_key.returncode == 2
    assert "nope-nope" not in wrong_key.stdout + wrong_key.stderr
    wrong_sender = _tuma(sandbox, "send", "--to", "0712345678", "--text", "x", TUMA_SHORTCODE="tuma")
    assert wrong_sender.returncode == 2
    unset = _tuma(sandbox, "balance", TUMA_APIKEY="")
    assert unset.returncode == 2
    assert "TUMA_APIKEY" in unset.stderr
    no_url = _tuma(sandbox, "balance", SMS_API_BASE_URL="")
    assert no_url.returncode == 2 and "SMS_API_BASE_URL" in no_url.stderr


def test_text_that_cannot_be_sent_is_refused_before_the_provider(sandbox: SandboxServer) -> None:
    result = _tuma(sandbox, "send", "--to", "0712345678", "--text", "🙏 asante")
    assert result.returncode == 1
    assert "outside GSM7" in result.stdout
    assert sandbox.platform.outbox_view() == []


def test_balance_and_delivery_report(sandbox: SandboxServer) -> None:
    before = json.loads(_tuma(sandbox, "balance", "--json").stdout)["credit"]
    sent = json.loads(_tuma(sandbox, "send", "--to", "0712345401", "--text", "a" * 200, "--json").stdout)
    after = json.loads(_tuma(sandbox, "balance", "--json").stdout)["credit"]
    assert float(before) - float(after) == 2  # two parts
    time.sleep(0.3)
    report = json.loads(_tuma(sandbox, "dlr", sent["messageid"], "--json").stdout)
    assert report["status"] == "AbsentSubscriber"
    assert report["delivered_at"].endswith("+03:00")
