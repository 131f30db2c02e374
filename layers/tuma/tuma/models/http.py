"""One HTTP exchange, as the domain sees it (the Http port in tuma.ports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    content: bytes


class HttpFailure(Exception):
    """No HTTP answer came back. `maybe_sent` is False only when the request cannot have reached the
    server (it never connected); after a read timeout or a dropped connection it may have been acted
    on, which is what decides whether a message may go to another provider."""

    def __init__(self, kind: str, *, maybe_sent: bool) -> None:
        super().__init__(kind)
        self.kind = kind  # a name, never the library's text: that can carry the URL
        self.maybe_sent = maybe_sent
