"""Consistent keyed pseudonyms for the identifiers in a capture (SPEC §3.6c).

Pure: the caller hands in the key, header objects and frame payloads, and
takes back anonymised ones. :class:`Anonymiser` replaces

* the values of identifier fields: the fields each dialect declares
  (:attr:`~presencectl.core.dialects.Dialect.identifiers`, asked of the
  dialect that recognises the payload) and the personal-data fields common to
  any JSON (:data:`COMMON_FIELDS`: e-mail, phone, IP address, user and device
  names, IMEI/IMSI/ICCID);
* e-mail addresses, IPv4 addresses, phone numbers and IMEI/IMSI/ICCID-like
  digit strings anywhere in other text, and any identifier already replaced
  that turns up again as a word of other text;
* the identifier segments of MQTT topics (the dialects declare topic
  patterns) and topic segments that hold digits;
* the header: user part and query of the source URL dropped, its host and
  id-like path segments pseudonymised, unknown keys dropped.

A pseudonym is a function of the key and the original text only, so one
identifier gets one pseudonym wherever it appears, in every capture
anonymised with the same key. It keeps the shape that matters: digits stay
digits of the same length (an IMEI still looks like one, an integer stays an
integer of the same size, exact beyond 53 bits), hex stays hex, letters stay
letters of the same case, punctuation stays; e-mail addresses, IP addresses
and phone numbers stay valid ones. JSON structure, types, times and event
types are kept, so ``cat``, ``stats`` and ``replay`` see the same events with
other names.

Example::

    anon = Anonymiser(b"secret key")
    header = anon.header(header_obj)
    text, topic = anon.payload('{"deviceId": "17kl14hm46h4c2", "event": "x"}', None)
    anon.counts   # {"deviceId": 1}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from presencectl.core import dialects
from presencectl.core.capture import is_secret_name

__all__ = ["Anonymiser", "COMMON_FIELDS", "SAFE_HEADER_KEYS"]

#: Field names that hold personal data in any JSON, compared without case,
#: ``_`` and ``-`` (``user_id`` = ``userId``).
COMMON_FIELDS = frozenset(
    (
        "email", "mail", "emailaddress", "phone", "phonenumber", "mobile", "msisdn", "tel",
        "imei", "imsi", "iccid", "ip", "ipaddress", "ipaddr", "remoteip", "clientip", "remoteaddr",
        "userid", "username", "user", "login", "displayname", "fullname", "firstname", "lastname",
        "deviceid", "devicename", "clientid", "serial", "serialnumber", "mac", "macaddress",
        "accountid", "customerid", "ownerid",
    )
)
#: Header keys kept (after their values are anonymised); any other key is dropped.
SAFE_HEADER_KEYS = ("presencectl", "source", "transport", "started", "topics", "headers", "origins", "slice")
#: What is kept of a ``merge`` origin and of a ``slice`` record (file names and filters are not).
_ORIGIN_KEYS = ("origin", "source", "transport", "started", "topics")
_SLICE_KEYS = ("from", "until", "window", "started")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_PHONE = re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)")
#: IMEI/IMSI (15 digits), ICCID (19-20 digits starting 89).
_DEVICE_NUMBER = re.compile(r"(?<![\d.])(?:\d{15}|89\d{17,18})(?![\d.])")
_TEXT_PATTERNS = (("email", _EMAIL), ("ip", _IPV4), ("phone", _PHONE), ("device number", _DEVICE_NUMBER))
_WORD = re.compile(r"[A-Za-z0-9_-]{4,}")
_HEXISH = re.compile(r"[0-9a-f-]+|[0-9A-F-]+")
_HAS_DIGIT = re.compile(r"\d")
#: Words of free text shorter than this are never replaced as known identifiers.
_MIN_KNOWN = 4
#: At most this many identifiers are remembered for finding them in free text
#: (memory stays flat on a capture with a new message id in every frame).
MAX_KNOWN = 50_000
#: Pseudonyms kept for reuse (a cache: cleared when full).
CACHE_SIZE = 50_000
_INT64_MAX = 2**63 - 1


def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


class _Rules:
    """One dialect's identifier declarations, split by kind."""

    __slots__ = ("names", "paths", "key_paths", "topics")

    def __init__(self, declared: tuple[str, ...]) -> None:
        self.names: set[str] = set()
        self.paths: list[list[str]] = []
        self.key_paths: list[list[str]] = []
        self.topics: list[list[str]] = []
        for entry in declared:
            if entry.startswith("/"):
                self.topics.append(entry.split("/"))
            elif entry.endswith(".{key}"):
                self.key_paths.append(entry[: -len(".{key}")].split("."))
            elif "." in entry:
                self.paths.append(entry.split("."))
            else:
                self.names.add(entry)


def _path_match(pattern: list[str], path: tuple[str, ...]) -> bool:
    return len(pattern) == len(path) and all(p == "*" or p == q for p, q in zip(pattern, path, strict=True))


class Anonymiser:
    """Replaces identifiers with keyed pseudonyms; counts what it replaced.

    Args:
        key: the HMAC key. The same key gives the same pseudonyms.

    After use, :attr:`counts` maps a field name (or ``topic``, ``header
    source``, ``text: email`` for a match in other text) to how many values
    were replaced there.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, str] = {}
        #: Originals already replaced in identifier fields → their pseudonyms.
        self.known: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self._rules = {d.name: _Rules(d.identifiers) for d in dialects.registry()}
        self._generic = self._rules["generic"]
        self._topic_rules = [t for r in self._rules.values() for t in r.topics]
        self._memo: dict[tuple[_Rules, tuple[str, ...]], bool] = {}
        self._plain_keys: set[str] = set()

    # ------------------------------------------------------------ pseudonyms
    def _stream(self, text: str, n: int) -> bytes:
        out = b""
        counter = 0
        while len(out) < n:
            out += hmac.new(self._key, counter.to_bytes(4, "big") + text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
            counter += 1
        return out[:n]

    def pseudonym(self, text: str) -> str:
        """The pseudonym of one identifier (same text, same key → same pseudonym).

        >>> a = Anonymiser(b"k")
        >>> p = a.pseudonym("357322041802978")
        >>> len(p) == 15 and p.isdigit() and p != "357322041802978"
        True
        """
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        result = self._shape(text, 0)
        attempt = 1
        while result == text and attempt < 8 and any(c.isalnum() for c in text):
            result = self._shape(text, attempt)
            attempt += 1
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[text] = result
        return result

    def _shape(self, text: str, salt: int) -> str:
        seed = text if not salt else f"{salt}\x00{text}"
        if _EMAIL.fullmatch(text):
            h = self._stream(seed, 8).hex()
            return f"user-{h[:8]}@example.invalid"
        if _IPV4.fullmatch(text):
            b = self._stream(seed, 3)
            return f"10.{b[0]}.{b[1]}.{b[2]}"
        if text.isascii() and text.isdigit():
            return self._digits(seed, text)
        if _PHONE.fullmatch(text):
            return "+" + self._digits(seed, text[1:])
        stream = self._stream(seed, len(text))
        hexish = _HEXISH.fullmatch(text) is not None
        out = []
        for char, byte in zip(text, stream, strict=False):
            if "0" <= char <= "9":
                out.append(chr(48 + byte % 10))
            elif hexish and ("a" <= char <= "f" or "A" <= char <= "F"):
                digit = "0123456789abcdef"[byte % 16]
                out.append(digit.upper() if char.isupper() else digit)
            elif "a" <= char <= "z":
                out.append(chr(97 + byte % 26))
            elif "A" <= char <= "Z":
                out.append(chr(65 + byte % 26))
            elif char.isalpha():
                out.append(chr(97 + byte % 26))  # other scripts: latin letters
            else:
                out.append(char)
        return "".join(out)

    def _digits(self, seed: str, digits: str) -> str:
        n = len(digits)
        stream = self._stream(seed, n)
        out = [chr(48 + b % 10) for b in stream]
        if digits[0] != "0":
            # No leading zero (an id written as a number stays one), and a
            # 19-digit id stays below 2**63 like the original.
            top = 8 if n == 19 and int(digits) <= _INT64_MAX else 9
            out[0] = chr(49 + stream[0] % top)
        else:
            out[0] = "0"
        return "".join(out)

    def _replace(self, value: str, field: str) -> str:
        new = self.pseudonym(value)
        self.counts[field] = self.counts.get(field, 0) + 1
        if len(value) >= _MIN_KNOWN and len(self.known) < MAX_KNOWN:
            self.known[value] = new
            if "/" in value:  # "productKey/deviceName" subjects: their parts too
                for part in value.split("/"):
                    if len(part) >= _MIN_KNOWN:
                        self.known[part] = self.pseudonym(part)
        return new

    def identifier(self, value: Any, field: str) -> Any:
        """An identifier field's value, pseudonymised (ints stay ints of the same size)."""
        if type(value) is str:
            return self._replace(value, field) if value else value
        if type(value) is int:
            text = str(abs(value))
            new = int(self._replace(text, field))
            return -new if value < 0 else new
        if type(value) is list:
            return [self.identifier(v, field) if not isinstance(v, (dict, list)) else v for v in value]
        return value

    # ------------------------------------------------------------------ text
    def text(self, value: str) -> str:
        """Free text with e-mail/IP/phone/device numbers and known identifiers replaced."""
        if len(value) < _MIN_KNOWN:
            return value
        for label, pattern in _TEXT_PATTERNS:
            if label == "email" and "@" not in value:
                continue
            if label in ("ip", "device number") and not _HAS_DIGIT.search(value):
                continue
            if label == "phone" and "+" not in value:
                continue
            value = pattern.sub(self._counted(f"text: {label}"), value)
        if self.known:
            known = self.known
            if _WORD.fullmatch(value):  # one word (most values): one look-up
                found = known.get(value)
                if found is not None:
                    self.counts["text: known id"] = self.counts.get("text: known id", 0) + 1
                    return found
                return value

            def word(m: re.Match[str]) -> str:
                found = known.get(m.group(0))
                if found is None:
                    return m.group(0)
                self.counts["text: known id"] = self.counts.get("text: known id", 0) + 1
                return found

            value = _WORD.sub(word, value)
        return value

    def _counted(self, label: str) -> Callable[[re.Match[str]], str]:
        def sub(m: re.Match[str]) -> str:
            self.counts[label] = self.counts.get(label, 0) + 1
            return self.pseudonym(m.group(0))

        return sub

    # ------------------------------------------------------------------ JSON
    def value(self, obj: Any, topic: str | None = None) -> Any:
        """A parsed JSON payload, anonymised: objects by their dialect's rules, batches element by element."""
        if type(obj) is dict:
            return self._object(obj, topic)
        if type(obj) is list:
            return [self.value(item, topic) if type(item) in (dict, list) else self._scalar(item) for item in obj]
        return self._scalar(obj)

    def _scalar(self, value: Any) -> Any:
        return self.text(value) if type(value) is str else value

    def _object(self, obj: dict, topic: str | None) -> dict:
        dialect = dialects.detect(obj, topic)
        rules = self._rules.get(dialect.name, self._generic)
        # Identifier fields first, so their values are known when other text mentions them.
        return self._walk(obj, (), rules)  # type: ignore[return-value]

    def _is_identifier(self, key: str, path: tuple[str, ...], rules: _Rules) -> bool:
        memo = self._memo
        found = memo.get((rules, path))
        if found is None:
            found = self._identifier_rule(key, path, rules)
            if len(memo) >= 50_000:
                memo.clear()
            memo[(rules, path)] = found
        return found

    def _identifier_rule(self, key: str, path: tuple[str, ...], rules: _Rules) -> bool:
        if key in rules.names or key in self._generic.names:
            return True
        if is_secret_name(key) or _norm(key) in COMMON_FIELDS:
            return True
        return any(_path_match(p, path) for p in rules.paths)

    def _walk(self, obj: Any, path: tuple[str, ...], rules: _Rules) -> Any:
        if type(obj) is dict:
            keys_are_ids = any(_path_match(p, path) for p in rules.key_paths)
            out: dict[str, Any] = {}
            pending: list[str] = []
            for key, value in obj.items():
                if _flat(value) and self._is_identifier(key, path + (key,), rules):
                    out[key] = self.identifier(value, key)
                else:
                    out[key] = value
                    pending.append(key)
            for key in pending:
                out[key] = self._walk(out[key], path + (key,), rules)
            if keys_are_ids:
                label = path[-1] if path else "key"
                return {self.identifier(k, label) if k else k: v for k, v in out.items()}
            plain = self._plain_keys
            for k in out:
                if k not in plain:
                    if _HAS_DIGIT.search(k) or "@" in k:
                        return {self.text(k): v for k, v in out.items()}
                    if len(plain) < 50_000:
                        plain.add(k)
            return out
        if type(obj) is list:
            return [self._walk(item, path + ("*",), rules) for item in obj]
        if type(obj) is str:
            return self.text(obj)
        return obj

    # ----------------------------------------------------------------- topic
    def topic(self, topic: str | None) -> str | None:
        """An MQTT topic (or Socket.IO event name) with its identifier segments replaced."""
        if not topic:
            return topic
        parts = topic.split("/")
        done = [False] * len(parts)
        for pattern in self._topic_rules:
            fixed = [i for i, p in enumerate(pattern) if p and p != "{}"]
            slots = [i for i, p in enumerate(pattern) if p == "{}"]
            if len(parts) < len(pattern) - (pattern[-1] == "") or any(
                i >= len(parts) or parts[i] != pattern[i] for i in fixed
            ):
                continue
            for i in slots:
                if parts[i] not in ("", "+", "#"):
                    parts[i] = self._replace(parts[i], "topic")
                    done[i] = True
            break
        for i, part in enumerate(parts):
            if done[i] or part in ("", "+", "#"):
                continue
            if len(part) >= _MIN_KNOWN and _HAS_DIGIT.search(part):
                parts[i] = self._replace(part, "topic")
            else:
                parts[i] = self.known.get(part) or part
        return "/".join(parts)

    # -------------------------------------------------------------- payloads
    def payload(self, text: str, topic: str | None) -> str | None:
        """One frame's payload text anonymised, or None when it cannot be parsed.

        A JSON document (pretty-printed too) comes back as compact JSON; a
        frame of newline-delimited documents line by line; Atmosphere framing
        (handshake, heart-beat, ``len|`` prefixes) is rebuilt around the
        anonymised documents.
        """
        doc = _loads(text)
        if doc is not _BAD:
            return _dumps(self.value(doc, topic))
        stripped = text.strip()
        if not stripped:
            return text
        framed = self._atmosphere(stripped, topic)
        if framed is not None:
            return framed
        if "\n" in stripped:
            lines = [line for line in stripped.splitlines() if line.strip()]
            docs = [_loads(line) for line in lines]
            if all(d is not _BAD for d in docs):
                return "\n".join(_dumps(self.value(d, topic)) for d in docs)
        return None

    def _atmosphere(self, text: str, topic: str | None) -> str | None:
        from presencectl.core.framing import HANDSHAKE, HEARTBEAT, unwrap_atmosphere

        framed = unwrap_atmosphere(text)
        if framed is None:
            return None
        if framed.control == HEARTBEAT:
            return text
        if framed.control == HANDSHAKE:
            uuid, interval, marker, rest = text.split("|", 3)
            inner = self._atmosphere(rest, topic) if rest.strip() else rest
            if inner is None:
                inner = self.payload(rest, topic)
                if inner is None:
                    return None
            return f"{self._replace(uuid, 'atmosphere uuid')}|{interval}|{marker}|{inner}"
        out = []
        for chunk in framed.payloads:
            doc = _loads(chunk)
            if doc is _BAD:
                return None
            data = _dumps(self.value(doc, topic))
            out.append(f"{len(data)}|{data}")
        return "".join(out)

    # ---------------------------------------------------------------- header
    def header(self, obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A capture header with credentials and identifying details removed.

        Returns the new header and the names of the keys dropped.
        """
        out: dict[str, Any] = {}
        dropped = []
        for key, value in obj.items():
            if key not in SAFE_HEADER_KEYS:
                dropped.append(key)
                continue
            if key == "source" and isinstance(value, str):
                value = self.url(value, "header source")
            elif key == "topics" and isinstance(value, list):
                value = [self.topic(t) if isinstance(t, str) else t for t in value]
            elif key == "headers" and isinstance(value, list):
                value = [h.split(":", 1)[0] for h in value if isinstance(h, str)]
            elif key == "origins" and isinstance(value, list):
                value = [self._origin(o) for o in value if isinstance(o, dict)]
            elif key == "slice" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k in _SLICE_KEYS}
            out[key] = value
        out["anonymised"] = True
        return out, dropped

    def _origin(self, origin: dict[str, Any]) -> dict[str, Any]:
        """One ``origins`` entry of a merged capture: its index and anonymised source details."""
        inner, _ = self.header({k: v for k, v in origin.items() if k in _ORIGIN_KEYS and k != "origin"})
        del inner["anonymised"]
        return {"origin": origin.get("origin"), **inner}

    def url(self, url: str, field: str = "url") -> str:
        """A URL without user, password or query; host and id-like path segments pseudonymised."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return self.text(url)
        host = parts.hostname or ""
        if host and host not in ("localhost", "127.0.0.1", "::1"):
            labels = host.split(".")
            if _IPV4.fullmatch(host):
                host = self._replace(host, field)
            else:
                # Keep the registrable tail (vendor.com) readable, hide the rest.
                keep = 2 if len(labels) > 2 else len(labels)
                head = [self._replace(label, field) if label else label for label in labels[:-keep]]
                host = ".".join(head + labels[-keep:])
        netloc = host if port is None else f"{host}:{port}"
        path = "/".join(
            self._replace(seg, field) if len(seg) >= _MIN_KNOWN and _HAS_DIGIT.search(seg) else seg
            for seg in parts.path.split("/")
        )
        return urlunsplit((parts.scheme, netloc, path, "", ""))

    def marker_detail(self, detail: str | None) -> str | None:
        """A capture marker's detail (often a URL) anonymised."""
        if detail is None:
            return None
        if "://" in detail and " " not in detail.strip():
            return self.url(detail.strip(), "marker")
        return self.text(detail)


_BAD: Any = object()


def _flat(value: Any) -> bool:
    """A scalar, or a list of scalars (``"trackers": [10284, 10285]``)."""
    if type(value) is list:
        return all(type(v) not in (dict, list) for v in value)
    return type(value) is not dict


_BIG_INT = re.compile(r"\d{20}")


def _loads(text: str) -> Any:
    if _BIG_INT.search(text):
        try:  # orjson reads integers beyond 64 bits as floats: keep them exact
            return json.loads(text)
        except ValueError:
            return _BAD
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)  # integers beyond 64 bits, NaN
        except ValueError:
            return _BAD


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
