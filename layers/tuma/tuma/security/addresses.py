"""Who may call a route by where the request comes from: Daraja's callbacks only from Safaricom's
addresses (template parameter SafaricomCallbackIps; where the list comes from is in docs/design.md).

The address is the one API Gateway saw the connection come from (`requestContext.identity.sourceIp`),
never a header: `X-Forwarded-For` is whatever the caller chose to write.
"""

from __future__ import annotations

import ipaddress

OPEN = "open"  # no address check: Daraja's sandbox, whose addresses Safaricom does not publish


class Addresses:
    def __init__(self, spec: str) -> None:
        """`spec`: IPs and networks (CIDR), comma-separated, or `open`; ValueError for anything else."""
        items = [item.strip() for item in spec.replace(";", ",").split(",") if item.strip()]
        self.open = items == [OPEN]
        if not items:
            raise ValueError("give the callers' addresses (IPs or CIDRs), or `open`")
        try:
            self._networks = [] if self.open else [ipaddress.ip_network(item, strict=False) for item in items]
        except ValueError:
            raise ValueError(f"not IP addresses or networks: {spec!r}") from None

    def allows(self, address: str | None) -> bool:
        if self.open:
            return True
        try:
            found = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        return any(found in network for network in self._networks)

    def __len__(self) -> int:
        return len(self._networks)
