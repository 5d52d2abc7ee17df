"""Expectations over an event stream (SPEC §3.6b ``expect``): steps, nevers, a verdict.

Pure: no clock reads, no I/O. The caller feeds events in arrival order with
the time each one arrived (``now``: seconds on any one clock: a live
session's monotonic clock, a capture's ``t``), tells it when time passes
without an event (:meth:`Expectation.advance`) and when the stream ends
(:meth:`Expectation.end`). Each call returns the :class:`Outcome` objects
that were decided by it, for the caller to print as they happen; once
:attr:`Expectation.done`, :meth:`Expectation.verdict` says how it went.

Example::

    steps = parse_plan([("step", "type=clientConnected"), ("within", "1m"),
                        ("presence", "17kl*=online")])
    expectation = Expectation(steps, [parse_never("kind=error")], start=0.0)
    for event, now in stream:
        for outcome in expectation.event(event, now):
            print(outcome.line())
        if expectation.done:
            break
    else:
        expectation.end(last_now)
    verdict = expectation.verdict()   # verdict.status: 0 or 3

Semantics (the contract of ``expect``):

*Step*
    ``--step EXPR`` passes on the first event, after the previous step
    passed, that the filter EXPR accepts. One event passes at most one
    ``--step``.
*Presence step*
    ``--presence SUBJECT=online|offline`` passes as soon as the presence
    tracker (:mod:`presencectl.core.presence`, each dialect's own notion of
    presence) has a subject matching the SUBJECT glob in that state, checked
    when the step becomes current and after every event: a device that is
    already online passes ``=online`` at once.
*Within*
    ``--within DURATION`` after a step is its deadline, counted from the
    moment the previous step passed (the first step: from the start). The
    overall ``deadline`` (``--deadline``) bounds every step.
*Never*
    ``--never EXPR`` fails the whole expectation on the first event it
    accepts, whatever step is current; it is checked before the steps, so
    an event that both passes a step and matches a never fails.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from fnmatch import fnmatchcase
from typing import Any

from presencectl.core.events import Event
from presencectl.core.filters import Filter, parse_filters
from presencectl.core.presence import PresenceTracker
from presencectl.core.render import escape
from presencectl.core.times import parse_duration
from presencectl.errors import FilterSyntaxError, UsageError

__all__ = [
    "Step",
    "Never",
    "Outcome",
    "Verdict",
    "Expectation",
    "parse_expr",
    "parse_plan",
    "parse_never",
    "parse_presence",
    "SCHEMA",
    "STATES",
]

#: The ``schema`` value of the ``--json`` verdict; bumped on any key change.
SCHEMA = "presencectl.expect/1"
STATES = ("online", "offline")
#: Keys of an EXPR term that are globs on a normalised field (the ``-t``/``-s`` options).
_GLOB_KEYS = {"type": "types", "t": "types", "subject": "subjects", "s": "subjects"}


def parse_expr(text: str) -> Filter:
    """An EXPR (``'subject=17kl* type=clientConnected'``) as the filter ``-t/-s/-w/--kind`` build.

    Terms are separated by spaces (quote a value that holds one:
    ``"summary~'fw 1.5'"``) and all must hold. ``type=GLOB`` and
    ``subject=GLOB`` (also ``t=``/``s=``, ``!GLOB`` excludes) are ``-t``/``-s``;
    ``kind=K`` is ``--kind``; any other term is a ``-w`` expression
    (``data.version=1.5.0``, ``path!=v``, ``path~regex``, ``path>n``, ``path?``).

    >>> f = parse_expr("type=client* subject=17kl*")
    >>> f(Event("span", "clientConnected", "connect", "17kl1", None, "", {}))
    True

    Raises:
        FilterSyntaxError: an empty EXPR or a malformed term.
    """
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise FilterSyntaxError(f"bad expression {text!r}: {exc}") from None
    if not terms:
        raise FilterSyntaxError("empty expression: expected terms like type=clientConnected subject=17kl*")
    lists: dict[str, list[str]] = {"types": [], "subjects": [], "kinds": [], "where": []}
    for term in terms:
        key, op, value = term.partition("=")
        if op and key in _GLOB_KEYS and not key.endswith("!"):
            lists[_GLOB_KEYS[key]].append(value)
        elif op and key == "kind":
            lists["kinds"].append(value)
        else:
            lists["where"].append(term)
    try:
        return parse_filters(**lists)  # type: ignore[arg-type]
    except FilterSyntaxError as exc:
        raise FilterSyntaxError(f"bad expression {text!r}: {exc}") from None


def parse_presence(text: str) -> tuple[str, str]:
    """``SUBJECT=online|offline`` → (subject glob, state).

    Raises:
        UsageError: no ``=``, an empty subject, or another state.
    """
    subject, op, state = text.rpartition("=")
    state = state.strip().lower()
    if not op or not subject.strip() or state not in STATES:
        raise UsageError(f"bad --presence {text!r}: expected SUBJECT=online or SUBJECT=offline")
    return subject.strip(), state


@dataclass(frozen=True, slots=True)
class Step:
    """One ordered check: an event step (``matches``) or a presence step (``subject``/``state``)."""

    number: int
    expr: str
    matches: Filter | None = None
    subject: str | None = None
    state: str | None = None
    within: float | None = None

    @property
    def name(self) -> str:
        """``step 1: type=clientConnected`` / ``step 2: presence 17kl*=online``."""
        if self.matches is None:
            return f"step {self.number}: presence {self.subject}={self.state}"
        return f"step {self.number}: {self.expr}"


@dataclass(frozen=True, slots=True)
class Never:
    """A ``--never EXPR``: fails everything on the first event it accepts."""

    expr: str
    matches: Filter

    @property
    def name(self) -> str:
        return f"never: {self.expr}"


def parse_never(text: str) -> Never:
    """A ``--never EXPR`` (see :func:`parse_expr`)."""
    return Never(text, parse_expr(text))


def parse_plan(items: Sequence[tuple[str, str]]) -> list[Step]:
    """The ordered steps from ``(option, value)`` pairs in command-line order.

    ``option`` is ``"step"``, ``"presence"`` or ``"within"``; a ``within``
    applies to the step just before it.

    Raises:
        UsageError: ``--within`` before any step or twice for one step, a bad
            duration, a bad EXPR or ``--presence`` value.
    """
    steps: list[Step] = []
    for option, value in items:
        if option == "within":
            seconds = parse_duration(value.strip())
            if seconds is None or seconds <= 0:
                raise UsageError(f"bad --within {value!r}: expected a duration such as 30, 90s, 5m")
            if not steps:
                raise UsageError("--within must follow the --step or --presence it limits")
            last = steps[-1]
            if last.within is not None:
                raise UsageError(f"two --within for {last.name}")
            steps[-1] = Step(last.number, last.expr, last.matches, last.subject, last.state, seconds)
        elif option == "step":
            steps.append(Step(len(steps) + 1, value, matches=parse_expr(value)))
        elif option == "presence":
            subject, state = parse_presence(value)
            steps.append(Step(len(steps) + 1, value, subject=subject, state=state))
        else:
            raise ValueError(option)
    return steps


@dataclass(slots=True)
class Outcome:
    """A step or never decided: passed (with the event) or failed (with why).

    ``started`` is when the step became current, ``at`` when it was decided
    (both on the caller's clock); ``took`` is the difference.
    """

    name: str
    passed: bool
    started: float | None
    at: float | None
    event: Event | None = None
    why: str | None = None
    never: bool = False
    number: int | None = None

    @property
    def took(self) -> float | None:
        if self.at is None or self.started is None:
            return None
        return max(0.0, self.at - self.started)

    def line(self, zone: tzinfo | None = UTC, color: bool = False) -> str:
        """One line for the terminal or a CI log; payload text escaped.

        ``PASS step 1: type=clientConnected  clientConnected 17kl14hm46h4c2 at 2026-03-12 08:00:02.000 after 2.0 s``
        """
        word = "PASS" if self.passed else "FAIL"
        if color:
            word = f"\x1b[1;{32 if self.passed else 31}m{word}\x1b[0m"
        text = f"{word} {escape(self.name)}"
        event = self.event
        if event is not None:
            what = " ".join(escape(part) for part in (event.type or "unparsed", event.subject or "") if part)
            text += f"  {what}"
            when = event_time_text(event, zone)
            if when:
                text += f" at {when}"
        if self.why:
            text += f"  {escape(self.why)}"
        took = self.took
        if took is not None:
            text += f" after {duration_text(took)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``--json``)."""
        return {
            "name": self.name,
            "status": "passed" if self.passed else "failed",
            "took_s": None if self.took is None else round(self.took, 3),
            "why": self.why,
            "event": event_dict(self.event) if self.event is not None else None,
        }


@dataclass(slots=True)
class Verdict:
    """How it went: ``status`` 0 (every step passed) or 3 (SPEC §5)."""

    passed: bool
    reason: str
    steps: list[tuple[Step, Outcome | None]]
    nevers: list[tuple[Never, Outcome | None]]
    elapsed: float | None
    events: int

    @property
    def status(self) -> int:
        return 0 if self.passed else 3

    def line(self, color: bool = False) -> str:
        """The final verdict line."""
        done = sum(1 for _, o in self.steps if o is not None and o.passed)
        word = "PASSED" if self.passed else "FAILED"
        if color:
            word = f"\x1b[1;{32 if self.passed else 31}m{word}\x1b[0m"
        text = f"{word}: {done}/{len(self.steps)} steps passed"
        if not self.passed:
            text += f"; {escape(self.reason)}"
        if self.elapsed is not None:
            text += f" in {duration_text(self.elapsed)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` verdict (schema :data:`SCHEMA`)."""
        return {
            "schema": SCHEMA,
            "passed": self.passed,
            "status": self.status,
            "reason": self.reason,
            "elapsed_s": None if self.elapsed is None else round(self.elapsed, 3),
            "events": self.events,
            "steps": [_step_dict(step, outcome) for step, outcome in self.steps],
            "never": [
                {"expr": never.expr, "status": "failed" if outcome else "passed",
                 "event": event_dict(outcome.event) if outcome and outcome.event else None}
                for never, outcome in self.nevers
            ],
        }


def _step_dict(step: Step, outcome: Outcome | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "step": step.number,
        "kind": "event" if step.matches is not None else "presence",
        "expr": step.expr,
        "within_s": step.within,
        "status": "not reached" if outcome is None else ("passed" if outcome.passed else "failed"),
        "took_s": None,
        "why": None,
        "event": None,
    }
    if outcome is not None:
        data.update(outcome.to_dict())
        data.pop("name")
    return data


def event_time_text(event: Event, zone: tzinfo | None = UTC) -> str | None:
    """The event's own time (else its receive time) as ``YYYY-MM-DD HH:MM:SS.mmm``."""
    when: datetime | None = event.time
    if when is None and event.received is not None:
        try:
            when = datetime.fromtimestamp(event.received, UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    if when is None:
        return None
    try:
        when = when.astimezone(zone) if zone is not None else when.astimezone()
    except (OverflowError, ValueError):
        pass
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def event_dict(event: Event) -> dict[str, Any]:
    """What the verdict says about a matching event (the payload is in ``--record``)."""
    return {
        "time": event.time.isoformat() if event.time is not None else None,
        "received": event.received,
        "dialect": event.dialect,
        "type": event.type,
        "kind": None if event.kind is None else str(event.kind),
        "subject": event.subject,
        "summary": event.summary,
    }


def duration_text(seconds: float) -> str:
    """``0.25 s``, ``2.0 s``, ``1m05s``."""
    if seconds < 10:
        return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m{rest:02d}s"


@dataclass(slots=True)
class Expectation:
    """Runs ``steps`` and ``nevers`` over a stream (see the module docstring).

    Args:
        steps: from :func:`parse_plan`, in order (at least one, or a never).
        nevers: from :func:`parse_never`.
        start: when the stream started on the caller's clock; None: at the
            first time passed in (a capture: its first frame).
        deadline: the overall limit in seconds from ``start`` (``--deadline``).
        tracker: the presence tracker for presence steps (one is made if needed).
    """

    steps: list[Step]
    nevers: list[Never] = field(default_factory=list)
    start: float | None = None
    deadline: float | None = None
    tracker: PresenceTracker | None = None
    current: int = 0
    started: float | None = None
    outcomes: list[Outcome | None] = field(default_factory=list)
    never_hit: tuple[Never, Outcome] | None = None
    failure: str | None = None
    events: int = 0
    last: float | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.steps)
        if self.tracker is None and any(s.matches is None for s in self.steps):
            self.tracker = PresenceTracker()
        self.started = self.start

    @property
    def done(self) -> bool:
        """True once the verdict is decided: something failed, every step passed,
        or (nevers only) the watch ended."""
        return self.failure is not None or self.closed or bool(self.steps) and self.current >= len(self.steps)

    def due(self) -> float | None:
        """When the current step (or the whole run) fails if nothing passes it first; None: never."""
        if self.done or self.start is None:
            return None
        dues = []
        if self.deadline is not None:
            dues.append(self.start + self.deadline)
        if self.current < len(self.steps):
            within = self.steps[self.current].within
            if within is not None and self.started is not None:
                dues.append(self.started + within)
        return min(dues) if dues else None

    def _clock(self, now: float | None) -> None:
        if now is not None:
            if self.start is None:
                self.start = self.started = now
            if self.last is None or now > self.last:
                self.last = now

    def advance(self, now: float | None) -> list[Outcome]:
        """Time is ``now`` and nothing arrived: fail the current step if its deadline passed."""
        self._clock(now)
        due = self.due()
        if now is None or due is None or now < due:
            return []
        return self._expire(due)

    def _expire(self, due: float) -> list[Outcome]:
        if self.current >= len(self.steps):
            # Nevers only: the deadline ends the watch, and they held.
            self.closed = True
            return []
        step = self.steps[self.current]
        if step.within is not None and self.started is not None and self.started + step.within <= due:
            why = f"no match within {duration_text(step.within)}"
        else:
            why = f"no match before the --deadline of {duration_text(self.deadline or 0)}"
        return [self._fail(step, due, why)]

    def _catch_up(self, now: float | None) -> list[Outcome]:
        """Before acting on an event or the end: take ``now`` and decide what fell due by then.

        Empty when the expectation was already done; check :attr:`done` after.
        """
        if self.done:
            return []
        self._clock(now)
        return self.advance(now) if now is not None else []

    def _fail(self, step: Step, at: float | None, why: str) -> Outcome:
        outcome = Outcome(step.name, False, self.started, at, None, why, number=step.number)
        self.outcomes[self.current] = outcome
        if at is not None:
            self.last = at  # the verdict's elapsed time ends where it was decided
        self.failure = f"{step.name}: {why}"
        return outcome

    def event(self, event: Event, now: float | None) -> list[Outcome]:
        """One event arrived at ``now``: check the deadline, the nevers, then the steps."""
        decided = self._catch_up(now)
        if self.done:
            return decided
        self.events += 1
        if self.tracker is not None:
            self.tracker.add(event)
        for never in self.nevers:
            if never.matches(event):
                outcome = Outcome(never.name, False, self.start, now, event, "matched", never=True)
                self.never_hit = (never, outcome)
                self.failure = f"--never {never.expr!r} matched"
                return [*decided, outcome]
        if self.current >= len(self.steps):
            return decided
        step = self.steps[self.current]
        if step.matches is not None:
            passed = step.matches(event)
        else:
            passed = event.subject is not None and self._state_holds(step, event.subject)
        if passed:
            decided.append(self._pass(step, now, event))
            decided.extend(self._presence_now(now, event))
        return decided

    def _pass(self, step: Step, now: float | None, event: Event | None) -> Outcome:
        outcome = Outcome(step.name, True, self.started, now, event, number=step.number)
        self.outcomes[self.current] = outcome
        self.current += 1
        self.started = now if now is not None else self.started
        return outcome

    def _presence_now(self, now: float | None, event: Event | None) -> list[Outcome]:
        """Pass presence steps whose state already holds (a step just became current)."""
        decided = []
        while self.current < len(self.steps):
            step = self.steps[self.current]
            if step.matches is not None or not self._state_holds(step, None):
                break
            decided.append(self._pass(step, now, event))
        return decided

    def _state_holds(self, step: Step, subject: str | None) -> bool:
        tracker = self.tracker
        if tracker is None or step.subject is None:
            return False
        subjects = tracker.subjects
        if subject is not None:
            stats = subjects.get(subject)
            return stats is not None and stats.state == step.state and fnmatchcase(subject, step.subject)
        return any(
            stats.state == step.state and fnmatchcase(name, step.subject) for name, stats in subjects.items()
        )

    def end(self, now: float | None = None, why: str = "the stream ended") -> list[Outcome]:
        """The stream ended (or the caller gave up) at ``now``: fail the current step, if any."""
        decided = self._catch_up(now)
        if self.done:
            return decided
        self.closed = True
        if self.current >= len(self.steps):
            return decided
        step = self.steps[self.current]
        return [*decided, self._fail(step, now if now is not None else self.last, why + " first")]

    def verdict(self) -> Verdict:
        """The result; call when :attr:`done` (or after :meth:`end`)."""
        if self.failure is None and self.current < len(self.steps):
            self.end(self.last)
        passed = self.failure is None
        elapsed = None
        if self.start is not None and self.last is not None:
            elapsed = self.last - self.start
        hit = self.never_hit
        return Verdict(
            passed,
            "all steps passed" if passed else (self.failure or ""),
            list(zip(self.steps, self.outcomes, strict=True)),
            [(n, hit[1] if hit is not None and hit[0] is n else None) for n in self.nevers],
            elapsed,
            self.events,
        )
