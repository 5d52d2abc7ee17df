"""The one loopback check before a listening socket opens (``--serve``, ``--listen``).

The decision itself over every kind of address, then the same refusals
through both commands that listen: one line, exit 2, nothing opened.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from presencectl.cli.binding import LOOPBACK_NAMES, check_bind
from presencectl.errors import UsageError
from tests.conftest import assert_no_traceback, fixture, run_cli

SPAN = str(fixture("span-activity.capture.ndjson"))


@pytest.mark.parametrize(
    "host", [*LOOPBACK_NAMES, "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"]
)
def test_loopback_is_accepted(host):
    check_bind(host, False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "10.1.2.3", "192.0.2.1", "fe80::1%lo", "2001:db8::1"])
def test_anything_else_needs_allow_remote(host):
    with pytest.raises(UsageError) as caught:
        check_bind(host, False, "--listen", "the webhook receiver")
    message = str(caught.value)
    assert message.startswith(f"--listen {host}: not a loopback address; the webhook receiver would be reachable")
    assert message.endswith("Add --allow-remote if that is what you want")
    check_bind(host, True)  # --allow-remote: the user asked for it


def test_an_unknown_name_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^--serve no-such-host\.invalid: unknown host$"):
        check_bind("no-such-host.invalid", False)


def test_a_name_is_judged_by_every_address_it_resolves_to():
    """This machine's own name: accepted exactly when all its addresses are loopback."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        pytest.fail(f"this machine's name {name!r} does not resolve")  # (every CI machine's does)
    loopback = all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)
    if loopback:
        check_bind(name, False)
    else:
        with pytest.raises(UsageError, match="not a loopback address"):
            check_bind(name, False)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["replay", SPAN, "--serve", "no-such-host.invalid:0"], "--serve"),
        (["tail", "http://no-such-host.invalid:8088/hook", "--listen"], "--listen"),
        (["record", "http://no-such-host.invalid:8088/hook", "--listen", "-o", "never.capture.ndjson"], "--listen"),
    ],
)
def test_every_listener_refuses_an_unknown_name_in_one_line(args, option, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.decode() == f"presencectl: error: {option} no-such-host.invalid: unknown host\n"
    assert list(tmp_path.iterdir()) == []
