"""Aliyun IoT device signing: the MQTT client id, user name and password.

Aliyun IoT Platform (and its Living Link app channel) authenticates an MQTT
client with a device's triple (ProductKey, DeviceName, DeviceSecret) turned
into CONNECT fields (Aliyun, "Establish MQTT connections over TCP"; the C
SDK's ``dev_sign_mqtt.c`` builds the same)::

    client id   {clientId}|securemode={2|3},signmethod=hmacsha1,timestamp={T}|
    user name   {deviceName}&{productKey}
    password    hex(HMAC-SHA1(deviceSecret, "clientId{clientId}deviceName{DN}productKey{PK}timestamp{T}"))

The signed content is every parameter sent to the server (``clientId``,
``deviceName``, ``productKey``, ``timestamp``; ``securemode`` and
``signmethod`` are not signed) sorted by name, each name followed by its
value. ``clientId`` there is the bare id, without the ``|…|`` extension.
``securemode`` is 2 for a TLS connection and 3 for plain TCP. ``T`` is the
time in epoch milliseconds; it is passed in, so this module stays pure.

Example::

    >>> creds = sign_device("a1pk", "app-dn", "secret", 1700000000000)
    >>> creds.client_id
    'app-dn&a1pk|securemode=2,signmethod=hmacsha1,timestamp=1700000000000|'
    >>> creds.username
    'app-dn&a1pk'
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from presencectl.errors import UsageError

__all__ = ["AliyunCredentials", "sign_device", "parse_device", "SECUREMODE_TLS", "SECUREMODE_TCP"]

#: ``securemode`` for a TLS connection (``mqtts://``, port 8883 or 1883 with TLS).
SECUREMODE_TLS = 2
#: ``securemode`` for plain TCP (``mqtt://``; refused by new Aliyun instances).
SECUREMODE_TCP = 3


@dataclass(frozen=True, slots=True)
class AliyunCredentials:
    """The three CONNECT fields for one connection attempt."""

    client_id: str
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password by accident
        return f"AliyunCredentials(client_id={self.client_id!r}, username={self.username!r}, password=<hidden>)"


def parse_device(text: str) -> tuple[str, str]:
    """``--aliyun-device PK/DN`` → (productKey, deviceName).

    >>> parse_device("a1pk/app-dn")
    ('a1pk', 'app-dn')

    Raises:
        UsageError: not two non-empty parts separated by one ``/``, or a part
            holding a character that would break the signed fields (``&``, ``|``).
    """
    product_key, sep, device_name = text.partition("/")
    if not sep or not product_key or not device_name or "/" in device_name:
        raise UsageError(f"bad --aliyun-device {text!r}: expected PRODUCTKEY/DEVICENAME")
    for part in (product_key, device_name):
        if any(c in part for c in "&|,") or part != part.strip():
            raise UsageError(
                f"bad --aliyun-device {text!r}: {part!r} contains a space, '&', '|' or ','"
            )
    return product_key, device_name


def sign_device(
    product_key: str,
    device_name: str,
    device_secret: str,
    timestamp_ms: int,
    *,
    client_id: str | None = None,
    tls: bool = True,
) -> AliyunCredentials:
    """The signed client id, user name and password for one device.

    Args:
        product_key: the device's ProductKey.
        device_name: its DeviceName.
        device_secret: its DeviceSecret (the HMAC key).
        timestamp_ms: the current time in epoch milliseconds; sign again with
            a fresh one on every (re)connect.
        client_id: the bare client id (default ``{deviceName}&{productKey}``);
            Aliyun allows any id of up to 64 characters (a MAC or serial number).
        tls: the connection uses TLS (``securemode=2``), else plain TCP (``securemode=3``).

    Returns:
        The CONNECT fields; the password is lower-case hex.

    Raises:
        UsageError: an empty secret, or a client id that is too long or holds ``|``.
    """
    if not device_secret:
        raise UsageError("--device-secret is empty")
    bare = client_id if client_id is not None else f"{device_name}&{product_key}"
    if not bare or "|" in bare or "," in bare or len(bare) > 64:
        raise UsageError(
            f"bad client id {bare!r} for Aliyun signing: 1 to 64 characters, no '|' or ','"
        )
    securemode = SECUREMODE_TLS if tls else SECUREMODE_TCP
    content = f"clientId{bare}deviceName{device_name}productKey{product_key}timestamp{timestamp_ms}"
    password = hmac.new(device_secret.encode(), content.encode(), hashlib.sha1).hexdigest()
    return AliyunCredentials(
        f"{bare}|securemode={securemode},signmethod=hmacsha1,timestamp={timestamp_ms}|",
        f"{device_name}&{product_key}",
        password,
    )
