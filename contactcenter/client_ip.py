"""The client's IP address, as the login lockout (django-axes) and the logs see it.

``X-Forwarded-For`` is written by whoever sends the request: it is believed only when the peer
that connected (``REMOTE_ADDR``) is one of the reverse proxies listed in ``TRUSTED_PROXIES``.
The header is then read from the right (the entry the nearest proxy appended) and every address
that is itself a trusted proxy is skipped: the first one left is the client. Entries a client
wrote before reaching the first proxy are never reached, so a spoofed header changes nothing.
"""

import ipaddress

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values) -> list[Network]:
    """``["10.0.0.1", "172.16.0.0/12", "::1"]`` -> networks; raises ValueError on a bad entry."""
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


def parse_ip(value: str):
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted(address, networks: list[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def resolve_client_ip(remote_addr: str, forwarded_for: str, networks: list[Network]) -> str:
    peer = parse_ip(remote_addr)
    if peer is None:
        return (remote_addr or "").strip()
    if not is_trusted(peer, networks):
        return str(peer)
    client = peer
    for entry in reversed([part for part in (forwarded_for or "").split(",") if part.strip()]):
        address = parse_ip(entry)
        if address is None:
            break  # garbage written before our proxies: stop at the last good hop
        client = address
        if not is_trusted(address, networks):
            break
    return str(client)


def client_ip(request) -> str:
    """The client's address for ``request`` (``AXES_CLIENT_IP_CALLABLE``)."""
    return resolve_client_ip(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        parse_networks(settings.TRUSTED_PROXIES),
    )
