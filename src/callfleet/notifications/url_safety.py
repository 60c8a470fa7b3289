"""Keeps webhooks away from internal networks (server-side request forgery).

A webhook URL must be http(s). Unless private addresses are allowed (local
development), every address its host resolves to must be a public one: not
loopback, private, link-local, shared (CGNAT), unspecified, multicast, reserved,
documentation or a cloud metadata address, in IPv4 or IPv6, including IPv4
addresses carried inside IPv6 ones. The check runs when the URL is saved and
again right before each send, because DNS answers can change in between; the
sender then connects to the address it checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVE_TIMEOUT_S = 5.0

_EXTRA_FORBIDDEN = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # shared address space (CGNAT), incl. 100.100.100.200
        "169.254.0.0/16",  # link-local, incl. 169.254.169.254 metadata
        "192.0.0.0/24",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "fc00::/7",  # unique local, incl. fd00:ec2::254 metadata
        "fe80::/10",
        "ff00::/8",
        "::/128",
        "::1/128",
        "100::/64",
        "2001:db8::/32",
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# Set per request from the app's config; outside a request the environment's
# configuration decides.
allow_private_var: ContextVar[bool | None] = ContextVar(
    "webhook_allow_private", default=None
)


def private_allowed() -> bool:
    allowed = allow_private_var.get()
    if allowed is None:
        from callfleet.config import get_config

        allowed = get_config().webhook_allow_private
    return allowed


class UnsafeURL(ValueError):
    """The URL may not receive webhooks."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int


def parse(url: str) -> Destination:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"webhook URL {url!r} is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(f"webhook URL {url!r} must use http or https")
    host = parts.hostname
    if not host:
        raise UnsafeURL(f"webhook URL {url!r} has no host")
    return Destination(
        scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80)
    )


def is_forbidden(address: IPAddress) -> bool:
    """True for any address that is not plainly a public unicast one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_forbidden(address.ipv4_mapped)
        embedded = address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_forbidden(embedded):
            return True
        if address.teredo is not None and any(
            is_forbidden(part) for part in address.teredo
        ):
            return True
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return True
    return any(address in net for net in _EXTRA_FORBIDDEN)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
    )
    return list(dict.fromkeys(info[4][0] for info in infos))


async def checked_addresses(url: str, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to for ``url``, all of them checked; raises
    ``UnsafeURL`` when any is forbidden or the host does not resolve."""
    destination = parse(url)
    literal = literal_address(destination.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            resolved = await resolve_host(destination.host, destination.port)
        except (OSError, TimeoutError) as exc:
            raise UnsafeURL(
                f"webhook URL host {destination.host!r} does not resolve"
            ) from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
        if not addresses:
            raise UnsafeURL(f"webhook URL host {destination.host!r} does not resolve")
    if not allow_private:
        _refuse_forbidden(url, addresses)
    return addresses


async def check_on_save(url: str, *, allow_private: bool) -> None:
    """Refuse a URL when it is saved. A host that does not resolve yet is
    accepted: the check before each send still applies."""
    destination = parse(url)
    if allow_private:
        return
    literal = literal_address(destination.host)
    if literal is not None:
        _refuse_forbidden(url, [literal])
        return
    try:
        resolved = await resolve_host(destination.host, destination.port)
    except (OSError, TimeoutError):
        return
    _refuse_forbidden(url, [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved])


def _refuse_forbidden(url: str, addresses: list[IPAddress]) -> None:
    for address in addresses:
        if is_forbidden(address):
            raise UnsafeURL(
                f"webhook URL {url!r} points to a private or reserved address "
                f"({address}); set CALLFLEET_WEBHOOK_ALLOW_PRIVATE=true to allow "
                "such addresses (local development)"
            )
