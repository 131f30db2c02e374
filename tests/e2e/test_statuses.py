"""What the API answers about a message is what happened to it: an accepted message is visible at
once, a scheduled alert has its story like a scheduled receipt, and cancelling twice says cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.conftest import Local, running_local

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    with running_local("AlertRecipients=0722000111,0733000222") as running:
        yield running


def _later() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def _statuses(answer: httpx.Response) -> list[str]:
    """Each recipient's status; ACCEPTED alone while the sender has not written them yet."""
    assert answer.status_code == 200, answer.text
    story = answer.json()
    return [r["status"] for r in story["recipients"]] or [story["status"]]


def test_a_message_just_accepted_has_a_story_at_once(local: Local) -> None:
    for path, body, key in (
        ("/payments", {"reference": "QKNOW00001", "amount": "150", "phone": "0712345678"}, "QKNOW00001"),
        ("/alerts", {"id": "now-1", "title": "Disk full"}, "alert:now-1"),
    ):
        assert local.post_signed(path, body).status_code == 202
        story = local.get_signed(f"/messages/{key}")  # at once: no sleep, no retry
        assert story.status_code == 200, (key, story.text)
        assert story.json()["idempotency_key"] == key
        assert _statuses(story)[0] in ("ACCEPTED", "QUEUED", "SENT", "DELIVERED")


def test_a_scheduled_alert_shows_scheduled_like_a_scheduled_receipt(local: Local) -> None:
    receipt = {"reference": "QKLATER002", "amount": "150", "phone": "0712345678", "send_at": _later()}
    assert local.post_signed("/payments", receipt).status_code == 202
    assert (
        local.post_signed("/alerts", {"id": "later-1", "title": "Backup", "send_at": _later()}).status_code
        == 202
    )
    local.wait_for(
        lambda: _statuses(local.get_signed("/messages/QKLATER002")) == ["SCHEDULED"],
        timeout=20,
        what="the receipt",
    )
    local.wait_for(
        lambda: set(_statuses(local.get_signed("/messages/alert:later-1"))) == {"SCHEDULED"},
        timeout=20,
        what="the alert's schedule",
    )
    assert len(_statuses(local.get_signed("/messages/alert:later-1"))) == 2  # both alert recipients


def test_cancelling_twice_says_cancelled_twice_never_already_sent(local: Local) -> None:
    assert (
        local.post_signed("/alerts", {"id": "later-2", "title": "Report", "send_at": _later()}).status_code
        == 202
    )
    local.wait_for(
        lambda: set(_statuses(local.get_signed("/messages/alert:later-2"))) == {"SCHEDULED"},
        timeout=20,
        what="the schedule",
    )
    first = local.get_signed("/messages/alert:later-2", method="DELETE")
    again = local.get_signed("/messages/alert:later-2", method="DELETE")
    assert (first.status_code, first.json()["result"]) == (200, "cancelled")
    assert (again.status_code, again.json()["result"]) == (200, "cancelled")
    assert set(_statuses(local.get_signed("/messages/alert:later-2"))) == {"CANCELLED"}
