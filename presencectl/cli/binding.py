"""The one check before any listening socket is opened: loopback, unless told otherwise.

``replay --serve`` (a test server) and ``tail/record --listen`` (a webhook
receiver) both bind 127.0.0.1 by default; any other address would make them
reachable from other machines, so it takes ``--allow-remote``.
"""

from __future__ import annotations

from presencectl.errors import UsageError

__all__ = ["check_bind", "LOOPBACK_NAMES"]

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def check_bind(host: str, allow_remote: bool, option: str = "--serve", what: str = "the test server") -> None:
    """Refuse a non-loopback address (``0.0.0.0``, ``::``, a LAN name) unless ``--allow-remote``.

    Args:
        host: the address or name to bind.
        allow_remote: ``--allow-remote`` was given.
        option: the option that named the address, for the message.
        what: what would be exposed, for the message.

    Raises:
        UsageError: the address is not loopback (or the name is unknown).
    """
    import ipaddress
    import socket

    if allow_remote:
        return
    if host.lower() in LOOPBACK_NAMES:
        return
    try:
        addresses = [ipaddress.ip_address(host.strip("[]").split("%", 1)[0])]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            raise UsageError(f"{option} {host}: unknown host") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses or not all(_loopback(a) for a in addresses):
        raise UsageError(
            f"{option} {host}: not a loopback address; {what} would be reachable from "
            "other machines. Add --allow-remote if that is what you want"
        )


def _loopback(address) -> bool:  # type: ignore[no-untyped-def]
    """127.0.0.0/8 and ::1, and ::ffff:127.x.y.z (an IPv4-mapped loopback: Python's is_loopback says no)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))
