"""A scripted MQTT peer on a loopback port, for what mosquitto never does.

mosquitto is the broker the tests use wherever it can show a behaviour
(``tests/mqtt_support.py``). Some brokers users meet do things mosquitto does
not: AWS IoT hangs up on a SUBSCRIBE or PUBLISH its policy denies, a broker
under load sends no SUBACK or PUBACK, a faulty one sends a malformed packet or
an MQTT 5 DISCONNECT with a reason, a load balancer resets the connection. A
:class:`ScriptedPeer` speaks real MQTT bytes over a real socket, and its
``script`` decides what the client gets::

    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        conn.expect(SUBSCRIBE)
        conn.reset()                      # hang up with a TCP reset

    with ScriptedPeer(script) as peer:
        run_cli("tail", peer.url, ...)

An ``AssertionError`` in a script (an unexpected packet) is kept and raised
again by :meth:`ScriptedPeer.close`, so a test cannot pass over a peer that
saw something else than it expected.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

__all__ = [
    "CONNECT", "DISCONNECT", "PINGREQ", "PUBACK", "PUBCOMP", "PUBLISH", "PUBREC", "SUBSCRIBE",
    "PeerConnection", "ScriptedPeer", "connack", "disconnect", "puback", "publish", "pubrel", "suback",
]

CONNECT, PUBLISH, PUBACK, PUBREC, PUBCOMP, SUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 4, 5, 7, 8, 12, 14


def _packet(first: int, body: bytes) -> bytes:
    n = len(body)
    length = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        length.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([first]) + bytes(length) + body


def connack(*, v5: bool, code: int = 0, session_present: bool = False) -> bytes:
    return _packet(0x20, bytes([int(session_present), code]) + (b"\x00" if v5 else b""))


def suback(pid: int, codes: list[int], *, v5: bool) -> bytes:
    return _packet(0x90, struct.pack("!H", pid) + (b"\x00" if v5 else b"") + bytes(codes))


def puback(pid: int) -> bytes:
    return _packet(0x40, struct.pack("!H", pid))


def pubrel(pid: int) -> bytes:
    return _packet(0x62, struct.pack("!H", pid))


def publish(topic: bytes, payload: bytes, *, v5: bool, qos: int = 0, pid: int = 1) -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", pid)
    return _packet(0x30 | qos << 1, body + (b"\x00" if v5 else b"") + payload)


def disconnect(code: int) -> bytes:
    """An MQTT 5 DISCONNECT with a reason code (brokers send it only to MQTT 5 clients)."""
    return _packet(0xE0, bytes([code, 0]))


class PeerConnection:
    """One accepted connection: read whole packets, send bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.v5 = False
        self._buf = b""

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the client closed the connection")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def packet(self) -> tuple[int, int, bytes]:
        """The next packet: (type, flags, body)."""
        first = self._read(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._read(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first >> 4, first & 0x0F, self._read(length)

    def expect(self, kind: int) -> bytes:
        """The next packet, which must be of ``kind`` (PINGREQs are answered and skipped)."""
        while True:
            got, _flags, body = self.packet()
            if got == PINGREQ:
                self.send(b"\xd0\x00")
                continue
            assert got == kind, f"expected packet type {kind}, got {got}"
            if kind == CONNECT:
                self.v5 = body[6] == 5  # after b"\x00\x04MQTT": the protocol level
            return body

    def packet_id(self, body: bytes) -> int:
        """The packet id of a SUBSCRIBE body."""
        return struct.unpack("!H", body[:2])[0]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reset(self) -> None:
        """Hang up with a TCP reset (SO_LINGER 0), as a load balancer or a crashed broker does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def hold(self) -> None:
        """Keep the connection open, reading (and dropping) whatever comes, until the client leaves."""
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass


class ScriptedPeer:
    """Accepts connections on a free loopback port and runs ``script`` on each (in a thread)."""

    def __init__(self, script: Callable[[PeerConnection], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.script = script
        self.connections = 0
        self.failures: list[BaseException] = []
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(sock)
            thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        conn = PeerConnection(sock)
        try:
            self.script(conn)
        except (EOFError, ConnectionError):
            pass  # the client left: the test checks what it said
        except BaseException as exc:  # noqa: BLE001 - raised again by close()
            self.failures.append(exc)
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        for sock in self._conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(10)
        if self.failures:
            raise self.failures[0]

    def __enter__(self) -> ScriptedPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
