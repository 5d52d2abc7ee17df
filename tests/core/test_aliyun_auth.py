"""Aliyun device signing: client id, user name and HMAC-SHA1 password, checked independently."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from presencectl.core.aliyun_auth import parse_device, sign_device
from presencectl.errors import UsageError

PK, DN, SECRET, T = "a1pk", "app-dn", "secret123", 1700000000000

# Computed outside presencectl, with
#   printf 'clientIdapp-dn&a1pkdeviceNameapp-dnproductKeya1pktimestamp1700000000000' \
#     | openssl dgst -sha1 -hmac secret123
EXPECTED_PASSWORD = "21e57e216c0a9406270cc9d58fff29cda13ad6ce"


def test_signature_matches_a_value_computed_elsewhere():
    creds = sign_device(PK, DN, SECRET, T)
    assert creds.password == EXPECTED_PASSWORD
    assert creds.client_id == "app-dn&a1pk|securemode=2,signmethod=hmacsha1,timestamp=1700000000000|"
    assert creds.username == "app-dn&a1pk"


def test_sign_content_is_the_sorted_parameters_with_the_bare_client_id():
    # The signed text, spelled out as Aliyun documents it: parameter names in
    # alphabetical order, each followed by its value; the clientId without |…|.
    content = "clientId" + "mac-0a1b" + "deviceName" + DN + "productKey" + PK + "timestamp" + str(T)
    expected = hmac.new(SECRET.encode(), content.encode(), hashlib.sha1).hexdigest()
    creds = sign_device(PK, DN, SECRET, T, client_id="mac-0a1b")
    assert creds.password == expected
    assert creds.client_id.startswith("mac-0a1b|")


def test_plain_tcp_uses_securemode_3():
    creds = sign_device(PK, DN, SECRET, T, tls=False)
    assert creds.client_id == "app-dn&a1pk|securemode=3,signmethod=hmacsha1,timestamp=1700000000000|"
    assert creds.password == EXPECTED_PASSWORD  # securemode is not signed


def test_a_new_timestamp_changes_the_password_and_the_client_id():
    a, b = sign_device(PK, DN, SECRET, T), sign_device(PK, DN, SECRET, T + 1)
    assert a.password != b.password and a.client_id != b.client_id


def test_repr_hides_the_password():
    assert EXPECTED_PASSWORD not in repr(sign_device(PK, DN, SECRET, T))


def test_parse_device():
    assert parse_device("a1pk/app-dn") == ("a1pk", "app-dn")


@pytest.mark.parametrize("text", ["a1pk", "/dn", "pk/", "pk/dn/x", "pk&x/dn", "pk/d|n", "pk/ dn"])
def test_parse_device_refuses_bad_input(text):
    with pytest.raises(UsageError, match="--aliyun-device"):
        parse_device(text)


@pytest.mark.parametrize("client_id", ["", "a|b", "a,b", "x" * 65])
def test_bad_client_ids_are_refused(client_id):
    with pytest.raises(UsageError, match="client id"):
        sign_device(PK, DN, SECRET, T, client_id=client_id)


def test_empty_secret_is_refused():
    with pytest.raises(UsageError, match="--device-secret"):
        sign_device(PK, DN, "", T)
