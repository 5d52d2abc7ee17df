"""Presence behaviour of two captures, side by side (``presencectl diff``, SPEC §3.6c).

Pure. Each capture is read into a :class:`TypedTracker` (the ``stats``
:class:`~presencectl.core.presence.PresenceTracker`, which also counts event
types per subject); :func:`compare` takes the two ``stats`` reports and the
per-subject type counts and says what differs. Presence is never computed
here: every figure is the one ``stats`` reports.

Two captures are *the same* when every compared measure is equal:

* stream: events, malformed, failed connects, markers, subjects by state
  at the end, events per type and kind, span and rate (to the ms and to 6
  decimals, as ``stats`` rounds them);
* per subject: events, connects, disconnects, failed connects, flaps,
  changes, state at the end, time offline and the longest offline period,
  events per type, and first/last seen *as offsets from each capture's first
  time* (a capture from last week and one from today can be the same);
* the set of subjects.

JSON schema ``presencectl.diff/1``::

    schema     "presencectl.diff/1"
    a, b       the two inputs' names
    same       true when nothing differs
    stream     [{"measure", "a", "b", "same"}]
    subjects   [{"subject", "in": "both"|"a"|"b", "same",
                 "measures": [{"measure", "a", "b", "same"}]}]  (differing first)
    only_in_a, only_in_b   subject names
    differences            how many measures differ in all
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from presencectl.core.presence import PresenceTracker

__all__ = ["TypedTracker", "compare", "SCHEMA", "SUBJECT_MEASURES", "STREAM_MEASURES"]

SCHEMA = "presencectl.diff/1"

#: Per-subject measures taken from the ``stats`` subject entry, in display order.
SUBJECT_MEASURES = (
    "events", "connects", "disconnects", "failed_connects", "flaps", "changes", "state",
    "offline_s", "longest_offline_s",
)
#: Stream measures taken from the ``stats`` report, in display order.
STREAM_MEASURES = ("events", "malformed", "failed_connects", "no_subject", "span_s", "rate_per_s")


class TypedTracker(PresenceTracker):
    """A :class:`PresenceTracker` that also counts event types per subject."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: subject → {type: events}
        self.subject_types: dict[str, dict[str, int]] = {}

    def _apply(self, dialect: Any, etype: Any, kind: Any, subject: Any, *rest: Any) -> None:  # type: ignore[override]
        super()._apply(dialect, etype, kind, subject, *rest)
        if subject is not None:
            types = self.subject_types.setdefault(subject, {})
            name = etype if etype is not None else "unparsed"
            types[name] = types.get(name, 0) + 1


def _offset(iso: str | None, origin: str | None) -> float | None:
    if iso is None or origin is None:
        return None
    return round(datetime.fromisoformat(iso).timestamp() - datetime.fromisoformat(origin).timestamp(), 3)


def _row(measure: str, a: Any, b: Any) -> dict[str, Any]:
    return {"measure": measure, "a": a, "b": b, "same": a == b}


def compare(
    name_a: str,
    report_a: dict[str, Any],
    types_a: dict[str, dict[str, int]],
    name_b: str,
    report_b: dict[str, Any],
    types_b: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """The diff document (schema in the module docstring) of two ``stats`` reports.

    Args:
        name_a, name_b: what to call the inputs.
        report_a, report_b: :meth:`PresenceTracker.report` of each capture.
        types_a, types_b: :attr:`TypedTracker.subject_types` of each.
    """
    stream = [_row(m, report_a.get(m), report_b.get(m)) for m in STREAM_MEASURES]
    for state in ("online", "offline", "unknown"):
        stream.append(_row(f"subjects {state} at the end", report_a["presence"][state], report_b["presence"][state]))
    marks = sorted(set(report_a["markers"]) | set(report_b["markers"]))
    stream += [_row(f"marker {m}", report_a["markers"].get(m, 0), report_b["markers"].get(m, 0)) for m in marks]
    kinds = sorted(set(report_a["counts"]["kind"]) | set(report_b["counts"]["kind"]))
    stream += [_row(f"kind {k}", report_a["counts"]["kind"].get(k, 0), report_b["counts"]["kind"].get(k, 0)) for k in kinds]
    type_a = {(t["dialect"], t["type"]): t["count"] for t in report_a["counts"]["type"]}
    type_b = {(t["dialect"], t["type"]): t["count"] for t in report_b["counts"]["type"]}
    for key in sorted(set(type_a) | set(type_b), key=lambda k: (str(k[0]), str(k[1]))):
        stream.append(_row(f"type {key[0]} {key[1]}", type_a.get(key, 0), type_b.get(key, 0)))

    subs_a = {s["subject"]: s for s in report_a["subjects"]}
    subs_b = {s["subject"]: s for s in report_b["subjects"]}
    origin_a, origin_b = report_a["first"], report_b["first"]
    subjects = []
    for name in list(subs_a) + [n for n in subs_b if n not in subs_a]:
        sa, sb = subs_a.get(name), subs_b.get(name)
        where = "both" if sa is not None and sb is not None else "a" if sa is not None else "b"
        measures = []
        for m in SUBJECT_MEASURES:
            measures.append(_row(m, sa[m] if sa else None, sb[m] if sb else None))
        for label, key in (("first seen (offset s)", "first_seen"), ("last seen (offset s)", "last_seen")):
            measures.append(_row(label, _offset(sa[key], origin_a) if sa else None, _offset(sb[key], origin_b) if sb else None))
        ta, tb = types_a.get(name, {}), types_b.get(name, {})
        for t in sorted(set(ta) | set(tb)):
            measures.append(_row(f"type {t}", ta.get(t, 0) if sa else None, tb.get(t, 0) if sb else None))
        same = where == "both" and all(r["same"] for r in measures)
        subjects.append({"subject": name, "in": where, "same": same, "measures": measures})
    subjects.sort(key=lambda s: s["same"])  # differing first, report order kept within
    differences = sum(not r["same"] for r in stream) + sum(
        1 if s["in"] != "both" else sum(not r["same"] for r in s["measures"]) for s in subjects
    )
    return {
        "schema": SCHEMA,
        "a": name_a,
        "b": name_b,
        "same": differences == 0,
        "stream": stream,
        "subjects": subjects,
        "only_in_a": [s["subject"] for s in subjects if s["in"] == "a"],
        "only_in_b": [s["subject"] for s in subjects if s["in"] == "b"],
        "differences": differences,
    }
