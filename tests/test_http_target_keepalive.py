"""``replay --to http://``: keep-alive connections a real server closes under us.

``targets.HttpTarget`` keeps one connection and, when the server had closed it
while idle (nginx's ``keepalive_timeout``, a load balancer), sends the frame
again on a new one: the request was never processed. These servers answer
HTTP/1.1 without ``Connection: close`` and then close anyway, after every
answer or every few; each frame must arrive exactly once, in order.
A fresh connection that is dropped before an answer is an error, not a retry.
"""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.live_support import capture_lines, frames_of

SPAN = fixture("span-activity.capture.ndjson")
FRAMES = [f.encode() if isinstance(f, str) else f for f in frames_of(capture_lines(SPAN))]


class ClosingServer:
    """HTTP/1.1 answers that promise keep-alive; the connection is closed after
    ``every`` answers anyway, without saying so."""

    def __init__(self, every: int) -> None:
        server = self
        self.bodies: list[bytes] = []
        self.connections: list[int] = []  # client port per POST
        self.errors: list[BaseException] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            served = 0

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                try:
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    server.bodies.append(body)
                    server.connections.append(self.client_address[1])
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()  # no "Connection: close"
                    self.wfile.write(b"ok")
                    self.wfile.flush()
                    self.served += 1
                    if self.served % every == 0:
                        self.close_connection = True  # ...and close it all the same
                except BaseException as exc:  # re-raised in the test
                    server.errors.append(exc)
                    raise

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ClosingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
        if self.errors and exc[0] is None:
            raise AssertionError(f"the test server failed: {self.errors!r}")


@pytest.mark.parametrize("every", [1, 3])
def test_frames_are_sent_again_on_a_new_connection_when_the_server_closed_the_idle_one(every):
    with ClosingServer(every) as server:
        # a real gap between frames: the close lands while the connection is idle
        result = run_cli("replay", str(SPAN), "--to", server.url, "--speed", "50", "--max-gap", "0.2")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert server.bodies == FRAMES  # each exactly once, in order
    # one connection per `every` frames: the retries really happened
    ports = server.connections
    assert len(set(ports)) == -(-len(FRAMES) // every)
    assert all(len([p for p in ports if p == port]) <= every for port in set(ports))


def test_a_connection_dropped_before_any_answer_is_an_error_not_a_retry_loop():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted = []

    def drop_everything() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=drop_everything, daemon=True)
    thread.start()
    try:
        result = run_cli("replay", str(SPAN), "--to", f"http://127.0.0.1:{port}/hook", "--speed", "max")
    finally:
        listener.close()
    assert_no_traceback(result)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert any(line.startswith(f"presencectl: error: POST http://127.0.0.1:{port}/hook: ") for line in lines), lines
    assert len(accepted) == 1  # the first POST on a fresh connection is not sent again
