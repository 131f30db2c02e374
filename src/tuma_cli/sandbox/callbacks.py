"""Delivery-report callbacks, posted to the configured URL when each message's report is due."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

import httpx
from tuma.formatting.clock import EAT

from tuma_cli.sandbox.platform import SentMessage

log = logging.getLogger(__name__)


class CallbackPoster:
    def __init__(self, url: Callable[[], str | None], duplicates: Callable[[], bool] = lambda: False) -> None:
        self._url = url
        self._duplicates = duplicates
        self._heap: list[tuple[float, int, SentMessage]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self.posted = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-dlr", daemon=True)
        self._http = httpx.Client(timeout=5.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)
        self._http.close()

    def schedule(self, message: SentMessage) -> None:
        with self._wake:
            heapq.heappush(self._heap, (message.report_at, next(self._order), message))
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.time()):
                    timeout = None if not self._heap else max(0.0, self._heap[0][0] - time.time())
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, message = heapq.heappop(self._heap)
            self._post(message)

    def _post(self, message: SentMessage) -> None:
        url = self._url()
        if not url:
            return
        body = {
            "description": message.outcome,
            "messageid": message.messageid,
            "timeTaken": f"{max(1, round(message.report_at - message.sent_at))}s",
            "timestamp": datetime.fromtimestamp(message.report_at, EAT).strftime("%Y-%m-%d %H:%M:%S"),
        }
        copies = 2 if self._duplicates() else 1
        for _ in range(copies):
            for attempt in range(3):
                try:
                    response = self._http.post(url, json=body)
                    if response.status_code < 500:
                        self.posted += 1
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2 * (attempt + 1))
            else:
                self.failed += 1
                log.warning("delivery report for %s could not be posted", message.messageid)
