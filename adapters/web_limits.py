"""Rate limits for the web chat: token buckets per session and per client address.

A session is a cookie, which anyone can make up, so a limit per session alone
stops nobody who wants to flood: each message with a new cookie is a new
"participant". The limit per address is what holds, and it is generous, because
a care home, a library's public computers or a school share one address.

Behind a reverse proxy every request comes from the proxy. Only for peers listed
as trusted proxies is `X-Forwarded-For` read: from the right, the first address
that is not a trusted proxy is the client (the entries to its left are whatever
the client chose to send). IPv6 clients are counted by their /64, which one
household or device usually holds whole.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Iterable

from adapters.recently import used

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_ADDRESSES = 10_000  # least recently seen addresses beyond this are forgotten
# per client address: enough for a room of people on one connection
ADDRESS_BURST, ADDRESS_PER_SECOND = 100, 5.0


class TokenBucket:
    """`burst` requests at once, then `per_second` on average."""

    def __init__(self, burst: float, per_second: float) -> None:
        self._burst = burst
        self._per_second = per_second
        self._tokens = burst
        self._refilled = time.monotonic()

    def take(self) -> float:
        """0 if a request may go now, else the seconds until one may."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._per_second)
        self._refilled = now
        if self._tokens < 1:
            return (1 - self._tokens) / self._per_second
        self._tokens -= 1
        return 0.0


class AddressLimits:
    """One bucket per client address, for the most recently seen addresses."""

    def __init__(self, burst: float, per_second: float) -> None:
        self._burst = burst
        self._per_second = per_second
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, address: str) -> float:
        """0 if a request from `address` may go now, else the seconds until one may."""
        bucket = used(self._buckets, address, self._new_bucket, most=MAX_ADDRESSES)
        return bucket.take()

    def _new_bucket(self) -> TokenBucket:
        return TokenBucket(self._burst, self._per_second)


def client_address(peer: str | None, forwarded_for: str, trusted: Iterable[Network]) -> str:
    """Who a request counts against: the client's address (its /64 for IPv6)."""
    trusted = tuple(trusted)
    chain = [peer or "unknown"]
    if forwarded_for and _within(chain[0], trusted):
        chain += [hop.strip() for hop in forwarded_for.split(",")][::-1]
    for hop in chain:
        if not _within(hop, trusted):
            return _counted(hop)
    return _counted(chain[-1])  # every hop is a trusted proxy: the first one it names


def is_trusted(peer: str | None, trusted: Iterable[Network]) -> bool:
    return peer is not None and _within(peer, tuple(trusted))


def retry_after(seconds: float) -> str:
    """A Retry-After header's value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # not an address: never a trusted proxy
    return any(ip in network for network in networks)


def _counted(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]  # a made-up hop still counts, as itself
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
