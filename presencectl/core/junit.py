"""``expect --junit FILE``: a verdict as JUnit XML, the shape GitLab, GitHub and Jenkins read.

Pure: the :class:`~presencectl.core.expect.Verdict` in, the file's bytes out.
"""

from __future__ import annotations

from presencectl.core.expect import Verdict
from presencectl.core.render import escape

__all__ = ["junit_xml"]

#: Characters XML 1.0 cannot carry at all, even escaped.
_XML_BAD = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}


def _xml_text(text: str) -> str:
    return escape(text).translate(_XML_BAD)


def junit_xml(verdict: Verdict, suite: str, timestamp: str | None = None) -> bytes:
    """A JUnit XML report: ``testsuites/testsuite/testcase`` with one test case
    per step and per ``--never``; a failed one carries ``<failure>``, a step
    never reached ``<skipped>``. Counts (``tests``, ``failures``, ``errors``,
    ``skipped``) and ``time`` are set on both suite levels.

    Args:
        verdict: from :meth:`Expectation.verdict`.
        suite: the suite name (the command line, credentials removed).
        timestamp: ISO 8601 start time, or None.
    """
    import xml.etree.ElementTree as ET

    cases: list[ET.Element] = []
    failures = skipped = 0
    for step, outcome in verdict.steps:
        case = ET.Element("testcase", classname="presencectl.expect", name=_xml_text(step.name))
        took = outcome.took if outcome is not None else None
        case.set("time", f"{took or 0.0:.3f}")
        if outcome is None:
            ET.SubElement(case, "skipped", message="not reached")
            skipped += 1
        elif not outcome.passed:
            failure = ET.SubElement(case, "failure", message=_xml_text(outcome.why or "failed"), type="ExpectationFailed")
            failure.text = _xml_text(outcome.line(color=False))
            failures += 1
        elif outcome.event is not None:
            out = ET.SubElement(case, "system-out")
            out.text = _xml_text(outcome.line(color=False))
        cases.append(case)
    for never, outcome in verdict.nevers:
        case = ET.Element("testcase", classname="presencectl.expect", name=_xml_text(never.name))
        case.set("time", f"{verdict.elapsed or 0.0:.3f}")
        if outcome is not None:
            failure = ET.SubElement(case, "failure", message="matched", type="NeverMatched")
            failure.text = _xml_text(outcome.line(color=False))
            failures += 1
        cases.append(case)
    counts = {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": f"{verdict.elapsed or 0.0:.3f}",
    }
    root = ET.Element("testsuites", name="presencectl expect", **counts)
    attrs = {"name": _xml_text(suite), **counts}
    if timestamp:
        attrs["timestamp"] = timestamp
    testsuite = ET.SubElement(root, "testsuite", **attrs)
    testsuite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
