"""SignalGate: Ctrl-C/SIGTERM wait for the end of a critical section (a frame, the close)."""

from __future__ import annotations

import os
import signal

import pytest

from presencectl.engine.signals import SignalGate, Terminated


def test_a_signal_inside_a_section_is_raised_when_it_ends():
    with SignalGate() as gate:
        gate.enter()
        os.kill(os.getpid(), signal.SIGINT)  # handled at once, in this (main) thread
        gate.enter()  # nested
        gate.leave()
        assert gate.pending == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            gate.leave()
        assert gate.pending is None  # raised once: the clean-up is not interrupted again
        gate.enter()
        gate.leave()


def test_outside_a_section_a_signal_is_raised_at_once():
    with SignalGate(), pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)


def test_in_polling_mode_the_caller_decides():
    with SignalGate() as gate:
        gate.poll(True)
        os.kill(os.getpid(), signal.SIGTERM)
        assert gate.pending == signal.SIGTERM
        with pytest.raises(Terminated):
            gate.poll(False)


def test_an_ignored_signal_stays_ignored():
    # A background job of a script starts with SIGINT ignored: Ctrl-C is not for it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with SignalGate():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_previous_handlers_come_back():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with SignalGate():
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
