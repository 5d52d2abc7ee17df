"""HTTP/1.1 without I/O: requests in (:class:`RequestReader`), short answers out (:func:`response`).

What the webhook receiver (:mod:`presencectl.transports.webhook`) needs of
HTTP: request heads, Content-Length and chunked bodies, the checks against
request smuggling, and complete small answers. No sockets here.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

__all__ = ["MAX_HEAD", "HttpError", "RequestHead", "RequestReader", "response"]

#: Request line plus headers larger than this are refused (431).
MAX_HEAD = 64 * 1024


class HttpError(Exception):
    """A request we answer with an error status (and, unless ``keep``, close)."""

    def __init__(self, status: int, text: str, *, keep: bool = False, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.keep = keep
        self.headers = headers or {}


@dataclass(slots=True)
class RequestHead:
    """A parsed request line and headers (names lower-cased)."""

    method: str
    target: str
    version: str
    headers: dict[str, str]
    length: int | None  # Content-Length; None with chunked or no body
    chunked: bool

    @property
    def path(self) -> str:
        """The target's path, without the query string."""
        try:
            return urlsplit(self.target).path or "/"
        except ValueError:  # "http://[x/": an unbalanced IPv6 bracket
            return self.target.partition("?")[0] or "/"

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the answer."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.length)


class RequestReader:
    """HTTP/1.1 requests from one connection's bytes (sans-I/O).

    :meth:`feed` what the socket gave, then :meth:`head` for the next
    request's head and :meth:`body` for its body; each returns None until
    enough bytes are there. Chunked bodies are decoded; a request carrying
    both Content-Length and Transfer-Encoding is refused (request smuggling).

    >>> r = RequestReader()
    >>> r.feed(b"POST /x HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
    >>> r.head().target, r.body(100)
    ('/x', b'{}')
    """

    __slots__ = ("_buf", "_head", "_chunks", "_chunk_size", "_in_trailer")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._head: RequestHead | None = None
        self._chunks: list[bytes] = []
        self._chunk_size = 0
        self._in_trailer = False

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buf += data

    def buffered(self) -> int:
        """Bytes received and not yet taken."""
        return len(self._buf)

    @property
    def current(self) -> RequestHead | None:
        """The head of the request whose body is being read, if any."""
        return self._head

    def abandon(self) -> None:
        """Forget the current request (it was refused; the connection closes or its body had none)."""
        self._head = None

    def head(self) -> RequestHead | None:
        """The next request head, once its blank line has arrived.

        Raises:
            HttpError: 400 for a malformed head, 431 when it is too large,
                505 for an HTTP version other than 1.0/1.1, 501 for a
                transfer coding other than chunked.
        """
        if self._head is not None:
            return self._head
        buf = self._buf
        # Tolerate stray blank lines between keep-alive requests (RFC 9112 §2.2).
        while buf[:2] == b"\r\n":
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise HttpError(431, "request head too large")
            return None
        if end > MAX_HEAD:
            raise HttpError(431, "request head too large")
        raw = bytes(buf[:end]).decode("latin-1")
        del buf[: end + 4]
        lines = raw.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
            raise HttpError(400, "malformed request line")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise HttpError(505, f"HTTP version {version[:20]!r} is not supported")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or line[:1] in (" ", "\t"):
                raise HttpError(400, "malformed header line")
            name = name.lower()
            value = value.strip()
            if name in headers:
                if name in ("content-length", "transfer-encoding", "authorization", "host"):
                    raise HttpError(400, f"repeated {name} header")
                headers[name] += ", " + value
            else:
                headers[name] = value
        chunked = False
        length = None
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.lower() != "chunked":
                raise HttpError(501, f"transfer coding {coding[:30]!r} is not supported")
            if "content-length" in headers:
                raise HttpError(400, "both Content-Length and Transfer-Encoding")
            chunked = True
        elif "content-length" in headers:
            text = headers["content-length"]
            # ASCII digits only: "²" and "١" are digits to str.isdigit, not to int().
            if not (text.isascii() and text.isdigit()) or len(text) > 18:
                raise HttpError(400, f"bad Content-Length {text[:30]!r}")
            length = int(text)
        self._head = RequestHead(method.upper(), target, version, headers, length, chunked)
        self._chunks, self._chunk_size, self._in_trailer = [], 0, False
        return self._head

    def body(self, limit: int) -> bytes | None:
        """The current request's body once complete (then the next head may follow).

        Raises:
            HttpError: 413 when a chunked body grows past ``limit``; 400 for
                bad chunked framing.
        """
        head = self._head
        if head is None:
            raise RuntimeError("body() before head()")
        buf = self._buf
        if not head.chunked:
            length = head.length or 0
            if len(buf) < length:
                return None
            data = bytes(buf[:length])
            del buf[:length]
            self._head = None
            return data
        while True:
            if self._in_trailer:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        raise HttpError(431, "chunked trailer too large")
                    return None
                line = bytes(buf[:end])
                del buf[: end + 2]
                if not line:
                    data = b"".join(self._chunks)
                    self._head, self._chunks, self._in_trailer = None, [], False
                    return data
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 1024:
                    raise HttpError(400, "bad chunked encoding")
                return None
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            # Hex digits only (int() would also take "+", "_" and "0x").
            if not 0 < len(size_text) <= 16 or size_text.strip(b"0123456789abcdefABCDEF"):
                raise HttpError(400, "bad chunked encoding")
            size = int(size_text, 16)
            if size == 0:
                del buf[: end + 2]
                self._in_trailer = True
                continue
            if self._chunk_size + size > limit:
                raise HttpError(413, f"body over the limit of {limit} bytes (--max-body)")
            if len(buf) < end + 2 + size + 2:
                return None
            if buf[end + 2 + size : end + 2 + size + 2] != b"\r\n":
                raise HttpError(400, "bad chunked encoding")
            self._chunks.append(bytes(buf[end + 2 : end + 2 + size]))
            self._chunk_size += size
            del buf[: end + 2 + size + 2]


def response(status: int, text: str, *, close: bool = False, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 answer with a short text body, in one piece."""
    body = (text + "\n").encode("utf-8", "replace")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [
        f"HTTP/1.1 {status} {phrase}",
        "Server: presencectl-webhook",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
    ]
    if headers:
        lines.extend(f"{k}: {v}" for k, v in headers.items())
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body
