"""The pure decisions behind MQTT's one-line errors: which words a failed socket
call, a refused CONNECT, a lost connection or a paho error code turns into, and
whether retrying can help (``fatal``). Real exceptions where the machine can make
them cheaply (a refused port, a failed DNS lookup, a TLS record that is not TLS);
constructed ``OSError``\\s for the causes a loopback test cannot provoke (no route,
no such address). The CLI paths that end in these lines are in
``test_mqtt_paths.py``."""

from __future__ import annotations

import errno
import os
import socket
import ssl

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from presencectl.transports.base import os_cause
from presencectl.transports.mqtt_connect import (
    explain_connack,
    explain_connect_error,
    lost_cause,
    rc_text,
)
from presencectl.transports.urls import parse_mqtt_url
from tests.conftest import free_port


def real_tls_error(reply: bytes) -> ssl.SSLError:
    """The SSLError a client handshake raises when the peer answers ``reply``."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="broker.example")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    incoming.write(reply)
    with pytest.raises(ssl.SSLError) as err:
        tls.do_handshake()
    return err.value


def refused() -> ConnectionRefusedError:
    with pytest.raises(ConnectionRefusedError) as err:
        socket.create_connection(("127.0.0.1", free_port()), timeout=5)
    return err.value


def errno_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


# ------------------------------------------------------------------ os_cause


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "connection reset by peer"),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "connection closed by peer (broken pipe)"),
        (errno_error(errno.EHOSTUNREACH), "no route to host"),
        (OSError("socket closed under us"), "socket closed under us"),  # no strerror: the text
        (ValueError(), "ValueError"),  # no text at all: the kind
    ],
)
def test_os_cause_says_each_failure_in_a_few_lower_case_words(exc, said):
    assert os_cause(exc) == said


def test_os_cause_of_real_errors():
    assert os_cause(refused()) == "connection refused"
    assert os_cause(real_tls_error(b"HTTP/1.0 400 Bad request\r\n\r\n")) == "TLS error: WRONG_VERSION_NUMBER"


# ------------------------------------------------------------------ lost_cause


def test_lost_cause_names_a_reset_a_tls_error_and_anything_else():
    assert lost_cause(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")) == (
        "connection reset by the broker"
    )
    assert lost_cause(real_tls_error(b"HTTP/1.0 400 Bad request\r\n\r\n")) == "TLS error: WRONG_VERSION_NUMBER"
    assert lost_cause(errno_error(errno.ETIMEDOUT)) == "the connection failed: connection timed out"
    assert lost_cause(BrokenPipeError(errno.EPIPE, "Broken pipe")) == (
        "the connection failed: connection closed by peer (broken pipe)"
    )


# ------------------------------------------------------------------ explain_connect_error

PLAIN = parse_mqtt_url("mqtt://broker.example:1883")
SECURE = parse_mqtt_url("mqtts://broker.example:8883")


def test_connect_errors_a_retry_may_cure_are_not_fatal():
    gai = None
    try:
        socket.getaddrinfo("no-such-host.invalid", 1883)
    except socket.gaierror as exc:
        gai = exc
    assert gai is not None
    cases = [
        (gai, PLAIN, f"DNS lookup of 'broker.example' failed ({gai.strerror})"),
        (refused(), PLAIN, "connection refused by broker.example:1883 (is the broker running?)"),
        (TimeoutError("timed out"), PLAIN,
         "timed out after 2.5 s connecting to broker.example:1883 (host unreachable or not answering)"),
        (errno_error(errno.ENETUNREACH), PLAIN, "broker.example:1883 is unreachable (network is unreachable)"),
        (errno_error(errno.EHOSTUNREACH), PLAIN, "broker.example:1883 is unreachable (no route to host)"),
        (errno_error(errno.EADDRNOTAVAIL), PLAIN,
         "cannot connect to broker.example:1883: cannot assign requested address"),
        # a reset before TLS answered: the port is not a TLS port (most likely)
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), SECURE,
         "TLS handshake with broker.example:8883 failed (connection closed): not a TLS port? use mqtt:// for plain MQTT"),
        # ... but on a plain connection it is just a reset
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), PLAIN,
         "cannot connect to broker.example:1883: connection reset by peer"),
    ]
    for exc, url, said in cases:
        assert explain_connect_error(exc, url, 2.5) == (said, False), exc


def test_connect_errors_a_retry_cannot_cure_are_fatal():
    wrong_port = real_tls_error(b"HTTP/1.0 400 Bad request\r\n\r\n")
    assert explain_connect_error(wrong_port, SECURE, 10) == (
        "TLS handshake with broker.example:8883 failed (WRONG_VERSION_NUMBER): not a TLS port? use mqtt:// for plain MQTT",
        True,
    )
    # an IDNA error (a label over 63 characters) is a ValueError: the same host fails every time
    bad_host = None
    try:
        socket.getaddrinfo("a" * 64 + ".example", 1883)
    except ValueError as exc:
        bad_host = exc
    assert bad_host is not None
    said, fatal = explain_connect_error(bad_host, PLAIN, 10)
    assert fatal and said == f"cannot connect to broker.example:1883: {bad_host}"


@pytest.mark.parametrize(
    "reason", ["SSLV3_ALERT_HANDSHAKE_FAILURE", "TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLSV1_ALERT_UNKNOWN_CA",
               "SSLV3_ALERT_BAD_CERTIFICATE"],
)
def test_a_broker_that_wants_a_client_certificate_is_fatal(reason):
    exc = ssl.SSLError(1, f"[SSL: {reason}] alert")
    exc.reason = reason
    assert explain_connect_error(exc, SECURE, 10) == (
        f"TLS handshake with broker.example:8883 failed ({reason}): the broker wants a client "
        "certificate it trusts (--cert, --key)",
        True,
    )


def test_another_tls_failure_is_named_and_may_be_retried():
    exc = ssl.SSLError(1, "[SSL: TLSV1_ALERT_INTERNAL_ERROR] alert")
    exc.reason = "TLSV1_ALERT_INTERNAL_ERROR"
    assert explain_connect_error(exc, SECURE, 10) == (
        "TLS handshake with broker.example:8883 failed (TLSV1_ALERT_INTERNAL_ERROR)", False
    )


def test_an_eof_in_the_tls_handshake_says_it_may_not_be_a_tls_port():
    # SSLEOFError is an SSLError: it must not fall into the generic TLS branch
    # and lose the hint (mosquitto on a plain port hangs up on the TLS hello,
    # with a reset or a clean EOF depending on timing: both say the same).
    exc = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    exc.reason = "UNEXPECTED_EOF_WHILE_READING"
    assert explain_connect_error(exc, SECURE, 10) == (
        "TLS handshake with broker.example:8883 failed (connection closed): not a TLS port? use mqtt:// for plain MQTT",
        False,
    )


def test_an_unknown_exception_is_left_to_the_caller():
    assert explain_connect_error(RuntimeError("a bug"), PLAIN, 10) == (None, False)


# ------------------------------------------------------------------ explain_connack


def connack(code: int) -> ReasonCode:
    return ReasonCode(PacketTypes.CONNACK, identifier=code)


@pytest.mark.parametrize(
    ("code", "version", "kwargs", "hint"),
    [
        (0x86, 3, {"aliyun": True}, " (check --aliyun-device and --device-secret)"),
        (0x87, 5, {}, " (give credentials: mqtt://USER:PASS@host, or --username with --password / PRESENCECTL_PASSWORD)"),
        (0x8C, 5, {"username": "bob"}, " (check the user name and password)"),
        (0x84, 5, {}, " (try --mqtt-version 3)"),
        (0x84, 3, {}, ""),  # 3.1.1 refused: nothing older to try
        (0x85, 3, {}, " (try another --client-id)"),
        (0x88, 5, {}, ""),  # server unavailable: nothing for the user to change
    ],
)
def test_a_refused_connect_says_what_to_try(code, version, kwargs, hint):
    reason = connack(code)
    assert explain_connack(reason, version, **kwargs) == (
        f"the broker refused the connection: {reason.getName()} (0x{code:02X}){hint}"
    )


# ------------------------------------------------------------------ rc_text


def test_paho_error_codes_in_words():
    assert rc_text(mqtt.MQTT_ERR_CONN_LOST) == "the broker closed the connection"
    assert rc_text(mqtt.MQTT_ERR_KEEPALIVE) == "no answer to a keep-alive ping"
    assert rc_text(mqtt.MQTT_ERR_NO_CONN) == "the client is not currently connected"
