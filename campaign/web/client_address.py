"""The client's address behind a CDN (issue 21, S1): one WSGI layer decides it.

Behind nginx, `TRUSTED_PROXIES` hops of `X-Forwarded-For` (ProxyFix) give the address
that connected to the first trusted proxy. Behind a CDN that address is the CDN's
edge, shared by every visitor it serves: they would share one rate-limit bucket and
be flagged together. A CDN names the visitor in a header of its own
(`CF-Connecting-IP`, `True-Client-IP`, `Fastly-Client-IP`): with
`TRUSTED_CLIENT_IP_HEADER` set, that header is taken as the client's address, but
only when the request came through the trusted hops (ProxyFix found all of them)
from an address in `TRUSTED_CLIENT_IP_FROM` (the CDN's published ranges; `*` only
when a firewall lets nothing but the CDN reach the proxy). From anyone else the
header is ignored, so a client going round the CDN can't pick its own address.

`REMOTE_ADDR` is rewritten here, inside ProxyFix and outside both fast paths, so
Flask (`request.remote_addr`, Flask-Limiter) and the fast paths read one address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def of(environ: Mapping) -> str | None:
    """The client's address as this layer (and ProxyFix) left it: what Flask's
    `request.remote_addr` and Flask-Limiter read, and what the fast paths pass on."""
    return environ.get("REMOTE_ADDR")


class ClientAddressError(ValueError):
    """A trusted-header setting that would let any client choose its address."""


def header_key(header: str) -> str:
    """The WSGI environ key of a request header (`CF-Connecting-IP` → `HTTP_CF_CONNECTING_IP`)."""
    return "HTTP_" + header.strip().upper().replace("-", "_")


def parse_networks(ranges: list[str]) -> list[IPNetwork] | None:
    """The CDN's ranges; None for `*` (any sender)."""
    if any(item.strip() == "*" for item in ranges):
        return None
    return [ipaddress.ip_network(item.strip(), strict=False) for item in ranges]


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


class TrustedClientHeader:
    """WSGI middleware: REMOTE_ADDR from the CDN's header, when the CDN sent it."""

    def __init__(self, wsgi_app, config: Mapping) -> None:
        self.wsgi_app = wsgi_app
        self.key = header_key(config["TRUSTED_CLIENT_IP_HEADER"])
        if self.key == "HTTP_X_FORWARDED_FOR":
            raise ClientAddressError("TRUSTED_CLIENT_IP_HEADER names one client, not a list")
        self.hops = int(config.get("TRUSTED_PROXIES") or 0)
        self.networks = parse_networks(list(config.get("TRUSTED_CLIENT_IP_FROM") or []))
        if self.networks is not None and not self.networks:
            raise ClientAddressError(
                "TRUSTED_CLIENT_IP_HEADER needs TRUSTED_CLIENT_IP_FROM: the CDN's address "
                "ranges (or * if only the CDN can reach the proxy)"
            )
        if self.networks is None and not self.hops:
            raise ClientAddressError(
                "TRUSTED_CLIENT_IP_FROM=* without TRUSTED_PROXIES would believe anyone's header"
            )

    def came_through_the_cdn(self, environ: dict) -> bool:
        if self.hops:
            # ProxyFix keeps the original REMOTE_ADDR; it moved to X-Forwarded-For's
            # hop only if the list held all the trusted hops.
            original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
            forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if original is None or len([f for f in forwarded if f.strip()]) < self.hops:
                return False
        if self.networks is None:
            return True
        edge = _address(environ.get("REMOTE_ADDR"))
        return edge is not None and any(edge in network for network in self.networks)

    def __call__(self, environ, start_response):
        client = _address(environ.get(self.key))
        if client is not None and self.came_through_the_cdn(environ):
            environ["campaign.cdn_edge"] = environ.get("REMOTE_ADDR")
            environ["REMOTE_ADDR"] = str(client)
        return self.wsgi_app(environ, start_response)
