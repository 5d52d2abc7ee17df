"""Adding a transport is a Source class, one registry line and one builder: a throwaway one works end to end.

CONTRIBUTING.md ("Adding a transport") promises that a new kind of live
source needs its transport module, a ``register(SourceInfo(...))`` line in
``transports/sources.py``, a builder in the CLI's ``BUILDERS`` and its tests,
and nothing else: ``source_kind``, the flag check, ``tail``, ``record`` and
the capture header read only what the registry declares. This proves it
with a source written here (newline-separated payloads over TCP,
``lines://HOST:PORT``), registered by being imported, against a real
loopback TCP server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from presencectl.cli.option_groups import ConnectArgs, check_applicable
from presencectl.errors import UsageError
from presencectl.transports import sources
from tests.conftest import ROOT, cli_env

#: A complete transport, as a contributor would write it (here with its
#: registry line and builder in the same module, so the test needs no edits).
MODULE = textwrap.dedent(
    '''
    """lines://HOST:PORT: one frame per line a TCP server sends."""

    import socket
    import time

    from presencectl.core.events import Frame
    from presencectl.transports.base import CannotConnect, ConnectionLost
    from presencectl.transports.sources import NETWORK, SourceInfo, register


    class LineSource:
        transport = "lines"
        markers = True
        confirms = False

        def __init__(self, url, connect_timeout=10.0):
            host, _, port = url.partition("://")[2].partition(":")
            self.address = (host, int(port))
            self.endpoint = url
            self.connect_timeout = connect_timeout
            self._sock = None
            self._buf = b""
            self._lines = []

        def connect(self):
            try:
                self._sock = socket.create_connection(self.address, timeout=self.connect_timeout)
            except OSError as exc:
                raise CannotConnect(self.endpoint, exc.strerror or str(exc)) from None
            return "reading lines"

        def receive(self, timeout):
            while not self._lines:
                if self._sock is None:
                    raise ConnectionLost(self.endpoint, "not connected")
                self._sock.settimeout(timeout)
                try:
                    data = self._sock.recv(65536)
                except TimeoutError:
                    return None
                if not data:
                    self.close()
                    raise ConnectionLost(self.endpoint, "the server closed the connection", clean=True)
                *lines, self._buf = (self._buf + data).split(b"\\n")
                self._lines += [line.decode() for line in lines if line]
            return Frame(self._lines.pop(0), time.time())

        def pending(self):
            return bool(self._lines)

        def done(self, frame, problem):
            pass

        def close(self):
            if self._sock is not None:
                self._sock.close()
                self._sock = None


    # transports/sources.py: the kind, its schemes, its class and the options it takes.
    register(SourceInfo("lines", "a line stream", ("lines",), f"{__name__}:LineSource",
                        NETWORK | {"connect_timeout"}))

    # cli/sources.py: the builder (flag values in, a Source out).
    from presencectl.cli.sources import BUILDERS, duration

    BUILDERS["lines"] = lambda source, args, env, warn: LineSource(
        source, duration(args.connect_timeout, "--connect-timeout"))
    '''
)
LINES = [
    {"type": "presence", "device": "d1", "state": "online", "ts": "2026-03-12T08:00:00Z"},
    {"type": "presence", "device": "d2", "state": "offline", "ts": "2026-03-12T08:00:01Z"},
]


@pytest.fixture
def lines_module(tmp_path, monkeypatch):
    (tmp_path / "lines_transport.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("lines_transport", None)
    import lines_transport  # noqa: F401  (registers it)

    yield tmp_path
    sources.unregister("lines")
    from presencectl.cli.sources import BUILDERS

    BUILDERS.pop("lines", None)
    sys.modules.pop("lines_transport", None)


@pytest.fixture
def line_server():
    """A loopback TCP server that sends LINES to each client, then closes."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"".join(json.dumps(line).encode() + b"\n" for line in LINES))
            conn.settimeout(30)
            try:
                conn.recv(1)  # until the client goes
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


def test_registered_kind_is_picked_and_its_flags_checked(lines_module):
    from presencectl.cli.commands.live import source_kind

    assert source_kind("LINES://127.0.0.1:9", False) == "lines"
    check_applicable("lines", ConnectArgs(timeout="5", connect_timeout="3", reconnect=False))
    with pytest.raises(UsageError) as e:
        check_applicable("lines", ConnectArgs(headers=["X: y"]))
    assert str(e.value).startswith("-H cannot be used with a line stream")
    with pytest.raises(UsageError, match="--listen takes an http:// URL; lines:// are for connecting out"):
        source_kind("lines://127.0.0.1:9", True)


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real CLI in a process that imported the contributor's module first."""
    entry = "import lines_transport, sys; sys.argv[0] = 'presencectl'; from presencectl.__main__ import main; main()"
    env = cli_env(PYTHONPATH=f"{ROOT}:{tmp_path}")
    return subprocess.run([sys.executable, "-c", entry, *args], capture_output=True, env=env, cwd=tmp_path, timeout=60)


def test_the_cli_tails_and_records_it(lines_module, line_server):
    url = f"lines://127.0.0.1:{line_server}"
    result = _cli(lines_module, "tail", url, "-f", "json", "-n", "2", "--record", "s.capture.ndjson", "--no-reconnect")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["subject"], e["time"]) for e in events] == [
        ("d1", "2026-03-12T08:00:00+00:00"), ("d2", "2026-03-12T08:00:01+00:00"),
    ]
    header = json.loads((lines_module / "s.capture.ndjson").read_text().splitlines()[0])
    assert (header["transport"], header["source"]) == ("lines", url)


def test_the_cli_refuses_a_flag_it_does_not_take(lines_module):
    result = _cli(lines_module, "tail", "lines://127.0.0.1:9", "-T", "a/#")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("presencectl: error: -T cannot be used with a line stream")


def test_every_registered_source_has_a_builder_and_a_class():
    from presencectl.cli.sources import BUILDERS

    live = {kind for kind, info in sources.SOURCES.items() if info.source}
    assert set(BUILDERS) == live
    for kind in live:
        info = sources.SOURCES[kind]
        cls = info.load()
        assert cls.transport == kind
        assert all(callable(getattr(cls, m, None)) for m in ("connect", "receive", "pending", "done", "close"))
        assert all(sources.REGISTRY[s] is info for s in info.schemes)
