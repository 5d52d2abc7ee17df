"""The paho-mqtt internals presencectl relies on, all in this one module.

paho's public API costs too much per message for two paths (see
``transports.mqtt``): a subscriber draining a queue of QoS 1 messages, and
``replay --to mqtt`` at QoS 0. Both use state paho keeps inside its Client:

- the subscriber takes the socket over at a packet boundary: ``_in_packet``
  (a dict whose ``"command"`` is 0 between packets) and ``_in_messages``
  (QoS 2 messages held until PUBREL) tell when that is safe;
- replay queues PUBLISH packets it encoded itself with
  ``_packet_queue(0, data, 0, 0, None)`` (command 0: written as they are) and
  keeps memory flat by watching the length of ``_out_packet``.

Nothing else in presencectl touches a ``_name`` of paho. With a paho whose
insides differ, :func:`idle` returns None and :func:`can_queue_raw` False, and
the callers keep to the public API (slower, same results).
``tests/test_paho_internals.py`` checks every function here against the
installed paho on a real broker and fails loudly when paho changes;
``pyproject.toml`` pins paho-mqtt to the versions in :data:`TESTED`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TESTED", "idle", "can_queue_raw", "queue_raw", "queued_raw"]

#: paho-mqtt versions the test passed on (keep the pin in pyproject.toml in step).
TESTED = ("2.1.0", "2.2.0")


def idle(client: Any) -> bool | None:
    """True when ``client`` is between packets, holds no QoS 2 message and has
    nothing left to write; None when this paho keeps no state we know."""
    packet = getattr(client, "_in_packet", None)
    waiting = getattr(client, "_in_messages", None)
    if not isinstance(packet, dict) or "command" not in packet or waiting is None:
        return None
    return packet["command"] == 0 and not waiting and not client.want_write()


def can_queue_raw(client: Any) -> bool:
    """Whether :func:`queue_raw` and :func:`queued_raw` work with this paho."""
    return callable(getattr(client, "_packet_queue", None)) and hasattr(client, "_out_packet")


def queue_raw(client: Any, data: bytes) -> None:
    """Queue already-encoded packets (QoS 0 PUBLISH) for paho's writer, as they are."""
    client._packet_queue(0, data, 0, 0, None)


def queued_raw(client: Any) -> int:
    """How many blocks wait in paho's writer queue."""
    return len(client._out_packet)
