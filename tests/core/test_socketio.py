"""Engine.IO v3/v4 and Socket.IO framing, and the client's state machine (pure, no I/O)."""

from __future__ import annotations

import doctest
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presencectl.core.protocols import engineio as eio
from presencectl.core.protocols import socketio as sio
from presencectl.core.protocols.socketio import (
    ClientProtocol,
    Closed,
    ConnectError,
    Disconnected,
    EventReceived,
    HeartbeatTimeout,
    Joined,
    Malformed,
    Opened,
    Packet,
    PacketError,
    Unsupported,
)
from presencectl.errors import UsageError
from tests.conftest import fixture

SAMPLE = fixture("samples/spaces-socketio-frames.txt").read_text().splitlines()
OPEN_V3 = SAMPLE[0]
OPEN_V4 = '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
SUBSCRIBE = '{"channel":{"_id":"5eecfda30da7fa05033f15ef","type":"topic"}}'


def test_module_doctests():
    result = doctest.testmod(sio)
    engine = doctest.testmod(eio)
    assert result.failed == 0 and engine.failed == 0
    assert result.attempted + engine.attempted > 10 and engine.attempted >= 4


# -- URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "version", "expected"),
    [
        ("sio://127.0.0.1:5000", 4, "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket"),
        ("sio://127.0.0.1:5000/", 3, "ws://127.0.0.1:5000/socket.io/?EIO=3&transport=websocket"),
        ("sios://spacesapis-socket.avayacloud.com/socket.io/?token=a.b-c_d%2Be&tokenType=jwt", 4,
         "wss://spacesapis-socket.avayacloud.com/socket.io/?token=a.b-c_d%2Be&tokenType=jwt&EIO=4&transport=websocket"),
        ("sio://h/custom/path?x=1", 4, "ws://h/custom/path?x=1&EIO=4&transport=websocket"),
        ("sio://h/socket.io/?EIO=3&transport=polling&t=1", 4, "ws://h/socket.io/?t=1&EIO=4&transport=websocket"),
        ("wss://h:8443/socket.io/", 3, "wss://h:8443/socket.io/?EIO=3&transport=websocket"),
        ("ws://user:pw@h", 4, "ws://user:pw@h/socket.io/?EIO=4&transport=websocket"),
        ("https://h/#frag", 4, "wss://h/socket.io/?EIO=4&transport=websocket"),
    ],
)
def test_engine_url(url, version, expected):
    assert sio.engine_url(url, version) == expected


@pytest.mark.parametrize("url", ["mqtt://h", "sio://", "sio://h:99999", "sio:///path", "h:5000"])
def test_engine_url_refuses(url):
    with pytest.raises(UsageError):
        sio.engine_url(url, 4)


def test_engine_url_error_hides_the_token():
    with pytest.raises(UsageError) as info:
        sio.engine_url("ftp://h/?token=s3cret", 4)
    assert "s3cret" not in str(info.value)


# -- packets ----------------------------------------------------------------------


def test_parse_open_v3_and_v4():
    v3 = sio.parse_open(OPEN_V3[1:])
    assert (v3.sid, v3.ping_interval, v3.ping_timeout, v3.max_payload, v3.version) == (
        "Jx3l0cB2VZ7kWnqgAAAB", 25.0, 5.0, None, 3,
    )
    v4 = sio.parse_open(OPEN_V4[1:])
    assert (v4.ping_interval, v4.ping_timeout, v4.max_payload, v4.version) == (25.0, 20.0, 1_000_000, 4)


@pytest.mark.parametrize(
    "body",
    ["", "[]", "{", '{"sid":1,"pingInterval":1,"pingTimeout":1}', '{"sid":"a","pingTimeout":1}',
     '{"sid":"a","pingInterval":0,"pingTimeout":1}', '{"sid":"a","pingInterval":true,"pingTimeout":1}',
     '{"sid":"a","pingInterval":1,"pingTimeout":1,"maxPayload":"x"}'],
)
def test_parse_open_refuses(body):
    with pytest.raises(PacketError):
        sio.parse_open(body)


def test_open_packet_round_trip():
    for version in (3, 4):
        hs = sio.parse_open(sio.open_packet("s", 1.5, 2, version)[1:])
        assert (hs.sid, hs.ping_interval, hs.ping_timeout, hs.version) == ("s", 1.5, 2.0, version)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Packet(0)),
        ("0/chat,", Packet(0, "/chat")),
        ("0/chat", Packet(0, "/chat")),
        ('0/chat,{"sid":"x"}', Packet(0, "/chat", '{"sid":"x"}')),
        ("0/chat?token=a%20b&x=1,", Packet(0, "/chat", query="token=a%20b&x=1")),
        ('0{"token":"t"}', Packet(0, "/", '{"token":"t"}')),
        ("1/chat,", Packet(1, "/chat")),
        ('2["hello",1]', Packet(2, "/", '["hello",1]')),
        ('2/chat,17["hello"]', Packet(2, "/chat", '["hello"]', 17)),
        ("3/chat,17[]", Packet(3, "/chat", "[]", 17)),
        ('4/chat,"Invalid namespace"', Packet(4, "/chat", '"Invalid namespace"')),
        ('51-/chat,["bin",{"_placeholder":true,"num":0}]', Packet(5, "/chat", '["bin",{"_placeholder":true,"num":0}]', None, 1)),
        ("62-/chat,4[]", Packet(6, "/chat", "[]", 4, 2)),
    ],
)
def test_decode_packet(text, expected):
    assert sio.decode_packet(text) == expected


@pytest.mark.parametrize(
    "text", ["", "7", "x", "2{", '2["a"] x', "5/chat,[]", "5x-[]", "2" + "1" * 17 + "[]", "2/chat,[1"]
)
def test_decode_packet_refuses(text):
    with pytest.raises(PacketError):
        sio.decode_packet(text)


_names = st.text(st.characters(blacklist_characters=",?#", blacklist_categories=("Cs",)), max_size=8)


@given(
    kind=st.integers(0, 6),
    namespace=st.one_of(st.just("/"), _names.map(lambda s: "/" + s.lstrip("0123456789"))),
    ack=st.one_of(st.none(), st.integers(0, 10**12)),
    data=st.one_of(st.none(), st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    ).map(lambda v: json.dumps(v, ensure_ascii=False))),
    attachments=st.integers(0, 3),
)
def test_packet_round_trip(kind, namespace, ack, data, attachments):
    if kind not in (sio.BINARY_EVENT, sio.BINARY_ACK):
        attachments = 0
    if data is not None and data[:1].isdigit():
        data = None  # the encoding cannot tell a bare number from (more digits of) an ack id
    text = sio.encode_packet(kind, namespace, data, ack, attachments)
    assert sio.decode_packet(text) == Packet(kind, namespace, data, ack, attachments)


def test_split_event_slices_the_arguments_as_received():
    data = '[ "PRESENCE" , {"id": 12345678901234567890, "x": 1.50,\n "n": "\\u00e9"} ,[1, 2],"s" ]'
    name, args = sio.split_event(data)
    assert name == "PRESENCE"
    assert args == ['{"id": 12345678901234567890, "x": 1.50,\n "n": "\\u00e9"}', "[1, 2]", '"s"']


@pytest.mark.parametrize(
    ("data", "expected"),
    [('["ping"]', ("ping", [])), ('["a",null]', ("a", ["null"])), ('["é",{}]', ("é", ["{}"]))],
)
def test_split_event_shapes(data, expected):
    assert sio.split_event(data) == expected


@pytest.mark.parametrize("data", [None, "", "{}", "[]", "[1]", '["a",]', '["a" 1]', '["a"', '["a",{]'])
def test_split_event_refuses(data):
    with pytest.raises(PacketError):
        sio.split_event(data)


def test_event_packet_keeps_argument_text():
    assert sio.event_packet("/", "e", ['{"a": 1 }']) == '42["e",{"a": 1 }]'
    assert sio.event_packet("/chat", "é", []) == '42/chat,["é"]'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "no reason given"),
        ('"Invalid namespace"', "Invalid namespace"),
        ('{"message":"not authorized"}', "not authorized"),
        ('{"message":"no","data":{"code":4}}', 'no ({"code":4})'),
        ("[1,2]", "[1,2]"),
        ('"' + "x" * 500 + '"', "x" * 199 + "…"),
    ],
)
def test_error_message(data, expected):
    assert sio.error_message(data) == expected


def test_options():
    assert sio.check_namespace(" chat ") == "/chat"
    for bad in ["", "/a,b", "/a?x", "/a b", "/a\x1b"]:
        with pytest.raises(UsageError):
            sio.check_namespace(bad)
    assert sio.check_json(' {"a": 1} ', "--emit") == '{"a": 1}'
    with pytest.raises(UsageError, match="not JSON"):
        sio.check_json("{oops", "--emit E JSON")
    with pytest.raises(UsageError, match="JSON object"):
        sio.check_json("[1]", "--auth", object_only=True)
    assert sio.auth_query('{"token":"a/b=","n":[1]}') == "token=a%2Fb%3D&n=%5B1%5D"


# -- the client: the Avaya Spaces sample (Engine.IO v3) ----------------------------------


def session(namespace="/chat", **kwargs) -> ClientProtocol:
    return ClientProtocol(namespace, emits=[("SUBSCRIBE_CHANNEL", SUBSCRIBE)], **kwargs)


def test_spaces_sample_frames():
    p = session()
    p.receive_text(SAMPLE[0], 0.0)
    assert p.version == 3 and p.state == "joining"
    assert p.data_to_send() == ["40/chat,"]
    assert p.events_received() == [Opened(sio.parse_open(SAMPLE[0][1:]), 3)]
    p.receive_text(SAMPLE[1], 0.1)  # 40: the root namespace, not ours
    assert p.state == "joining" and p.data_to_send() == []
    p.receive_text(SAMPLE[2], 0.2)  # 40/chat,
    assert p.state == "joined"
    assert p.data_to_send() == [f'42/chat,["SUBSCRIBE_CHANNEL",{SUBSCRIBE}]']
    for line in SAMPLE[3:]:
        p.receive_text(line, 0.3)
    items = p.events_received()
    assert items[0] == Joined("/chat", None)
    assert [(i.name, i.data) for i in items[1:]] == [
        ("CHANNEL_SUBSCRIBED", SUBSCRIBE),
        ("PRESENCE_EVENT_RESPONSE", SAMPLE[4][len('42/chat,["PRESENCE_EVENT_RESPONSE",') : -1]),
    ]
    assert json.loads(items[2].data)["sender"]["displayname"] == "Igor Test"


def test_v3_heartbeat_pings_and_notices_a_silent_server():
    p = session()
    p.receive_text(OPEN_V3, 100.0)
    p.receive_text("40/chat,", 100.0)
    p.data_to_send()
    assert p.next_deadline() == 125.0  # pingInterval
    p.tick(124.9)
    assert p.data_to_send() == []
    p.tick(125.0)
    assert p.data_to_send() == ["2"]
    assert p.next_deadline() == 130.0  # pingTimeout for the answer
    p.receive_text("3", 126.0)
    assert p.next_deadline() == 150.0
    p.tick(150.0)
    assert p.data_to_send() == ["2"]
    p.tick(155.0)
    assert p.events_received()[-1] == HeartbeatTimeout("no pong within 5 s of a ping")
    assert p.state == "closed" and p.next_deadline() is None


def test_v3_root_namespace_is_joined_by_the_server():
    p = ClientProtocol("/", emits=[("hello", "1")])
    p.receive_text(OPEN_V3, 0)
    assert p.data_to_send() == []  # nothing to ask for
    p.receive_text("40", 0)
    assert p.state == "joined" and p.data_to_send() == ['42["hello",1]']


def test_v3_auth_goes_into_the_connect_query():
    p = ClientProtocol("/chat", auth='{"token":"a b"}')
    p.receive_text(OPEN_V3, 0)
    assert p.data_to_send() == ["40/chat?token=a%20b,"]


def test_v3_connect_error():
    p = session()
    p.receive_text(OPEN_V3, 0)
    p.receive_text('44/chat,"Invalid namespace"', 0)
    assert p.events_received()[-1] == ConnectError("/chat", "Invalid namespace")
    assert p.state == "closed"


# -- the client: Engine.IO v4 ------------------------------------------------------------


def test_v4_session():
    p = session(auth='{"token":"t"}')
    p.receive_text(OPEN_V4, 0.0)
    assert p.version == 4
    assert p.data_to_send() == ['40/chat,{"token":"t"}']
    p.receive_text('40/chat,{"sid":"wZX3oN0bSVIhsaknAAAI"}', 0.1)
    assert p.events_received()[-1] == Joined("/chat", "wZX3oN0bSVIhsaknAAAI")
    assert p.data_to_send() == [f'42/chat,["SUBSCRIBE_CHANNEL",{SUBSCRIBE}]']
    # The server pings, the client answers; the client sends no pings of its own.
    assert p.next_deadline() == pytest.approx(45.1)
    p.tick(40.0)
    assert p.data_to_send() == []
    p.receive_text("2", 25.0)
    assert p.data_to_send() == ["3"]
    p.receive_text('42/chat,1["PRESENCE_EVENT_RESPONSE",{"a":1},"extra"]', 26.0)
    assert p.events_received() == [EventReceived("/chat", "PRESENCE_EVENT_RESPONSE", '{"a":1}', 2, 1)]
    assert p.data_to_send() == []  # an ack is asked for; a watcher sends none
    p.receive_text('42/chat,["NO_ARGS"]', 27.0)
    p.receive_text('42["ROOT_EVENT",{}]', 27.0)  # another namespace's
    p.receive_text('43/chat,5["ok"]', 27.0)  # a stray ack
    assert p.events_received() == [EventReceived("/chat", "NO_ARGS", None, 0)]
    p.tick(27.0 + 45.0)
    assert isinstance(p.events_received()[-1], HeartbeatTimeout)


def test_v4_root_namespace_sends_connect():
    p = ClientProtocol("/")
    p.receive_text(OPEN_V4, 0)
    assert p.data_to_send() == ["40"]
    p.receive_text('40{"sid":"x"}', 0)
    assert p.events_received()[-1] == Joined("/", "x")


@pytest.mark.parametrize(
    ("frame", "item"),
    [
        ('44/chat,{"message":"not authorized"}', ConnectError("/chat", "not authorized")),
        ('41/chat,{"message":"refused"}', ConnectError("/chat", "refused")),  # always_connect style
    ],
)
def test_v4_refused_while_joining(frame, item):
    p = session()
    p.receive_text(OPEN_V4, 0)
    p.receive_text(frame, 0)
    assert p.events_received()[-1] == item


def test_v4_server_disconnect_and_close():
    p = session()
    p.receive_text(OPEN_V4, 0)
    p.receive_text('40/chat,{"sid":"x"}', 0)
    p.receive_text("41/chat,", 1)
    assert p.events_received()[-1] == Disconnected("/chat", None)
    q = session()
    q.receive_text(OPEN_V4, 0)
    q.receive_text("1", 1)
    assert q.events_received()[-1] == Closed()
    q.receive_text('42/chat,["late",1]', 2)
    assert q.events_received() == []


def test_forced_version_wins_over_the_open_packet():
    p = ClientProtocol("/chat", version=4)
    p.receive_text(OPEN_V3, 0)
    assert p.version == 4 and p.data_to_send() == ["40/chat,"]
    with pytest.raises(ValueError):
        ClientProtocol("/", version=5)


def test_binary_events_are_reported_and_their_attachments_skipped():
    p = session()
    p.receive_text(OPEN_V4, 0)
    p.receive_text('40/chat,{"sid":"x"}', 0)
    p.events_received()
    p.receive_text('452-/chat,["FILE",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', 1)
    p.receive_binary(b"\x00\x01", 1)
    p.receive_binary(b"\x02", 1)
    p.receive_text('42/chat,["AFTER",{}]', 1)
    p.receive_binary(b"stray", 1)
    items = p.events_received()
    assert items[0] == Unsupported("binary event", "event 'FILE' on /chat carries 2 binary attachments; skipped")
    assert items[1] == EventReceived("/chat", "AFTER", "{}", 1)
    assert items[2].what == "binary message"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('42/chat,["a"', "not a JSON array"),
        ("42/chat,{}", "not a JSON array"),
        ("42/chat,[1]", "name is not a string"),
        ("49", "unknown Socket.IO packet type"),
        ("hello", "not an Engine.IO packet"),
        ("2x", "a ping with a payload"),
        ("0{}", "a second open packet"),
    ],
)
def test_malformed_frames_are_reported(frame, reason):
    p = session()
    p.receive_text(OPEN_V4, 0)
    p.receive_text('40/chat,{"sid":"x"}', 0)
    p.events_received()
    p.receive_text(frame, 1)
    (item,) = p.events_received()
    assert isinstance(item, Malformed) and item.text == frame and reason in item.reason
    assert p.state == "joined"


def test_garbage_before_the_open_packet():
    p = session()
    p.receive_text('{"event":"clientConnected"}', 0)
    p.receive_text("42/chat,[]", 0)
    assert [type(i) for i in p.events_received()] == [Malformed, Malformed]
    p.receive_text("0{nope", 0)
    assert p.state == "closed"


def test_close_says_goodbye():
    p = session()
    assert p.close() == []
    p = session()
    p.receive_text(OPEN_V3, 0)
    p.receive_text("40/chat,", 0)
    assert p.close() == ["41/chat,", "1"]
    assert p.close() == []
    root = ClientProtocol("/")
    root.receive_text(OPEN_V3, 0)
    root.receive_text("40", 0)
    assert root.close() == ["1"]  # v3 root: leaving it is closing the session


@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from(SAMPLE), st.binary(max_size=5)), max_size=12))
def test_any_input_never_raises(frames):
    p = session()
    for i, frame in enumerate(frames):
        if isinstance(frame, bytes):
            p.receive_binary(frame, float(i))
        else:
            p.receive_text(frame, float(i))
        p.tick(float(i))
        assert all(isinstance(t, str) for t in p.data_to_send())
        p.events_received()


def test_the_core_module_stays_pure():
    from tests.conftest import modules_loaded_by

    modules = modules_loaded_by("import presencectl.core.protocols.socketio")
    heavy = {"typer", "websocket", "websockets", "socketio", "engineio", "werkzeug", "socket", "ssl"}
    assert not {m for m in modules if m.split(".")[0] in heavy}
