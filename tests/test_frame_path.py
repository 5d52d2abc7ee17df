"""Pipeline.frame is the one frame path: record (on disk) → decode → judged → filter/render."""

from __future__ import annotations

import io

import pytest

from presencectl.core.capture import make_header
from presencectl.core.decode import Decoder
from presencectl.core.events import Frame
from presencectl.engine.runner import Pipeline
from presencectl.transports.files import CaptureReader, CaptureWriter
from presencectl.ui.console import Output

SPAN = '{"event":"clientConnected","collectionId":"c","deviceId":"d1","time":"2024-04-25 20:23:36"}'


@pytest.mark.parametrize("name", ["p.capture.ndjson", "p.capture.ndjson.gz"])
def test_judged_sees_the_frame_on_disk_and_nothing_rendered_yet(tmp_path, name):
    path = tmp_path / name
    stream = io.BytesIO()
    writer = CaptureWriter(str(path), make_header("ws://h", "websocket", 0.0), flush_every=60)
    pipeline = Pipeline(Decoder(), None, lambda e: b"shown\n", Output(stream, live=True), recorder=writer)
    seen = []

    def judged(frame, events):
        on_disk = list(CaptureReader(str(path), lambda message: None).records())
        seen.append((on_disk, stream.getvalue(), [e.subject for e in events]))

    pipeline.frame(Frame(SPAN, 1.0), None, judged)
    pipeline.frame(Frame(SPAN, 2.0), None, judged)
    pipeline.close()
    assert seen[1] == ([Frame(SPAN, 1.0), Frame(SPAN, 2.0)], b"shown\n", ["d1"])
    assert stream.getvalue() == b"shown\nshown\n"
    assert pipeline.counts.frames == writer.frames == 2


def test_plain_payloads_are_recorded_as_frames(tmp_path):
    path = tmp_path / "n.capture.ndjson"
    writer = CaptureWriter(str(path), make_header("f.ndjson", "file", 0.0))
    pipeline = Pipeline(Decoder(), None, None, None, recorder=writer)
    pipeline.payloads([SPAN.encode(), b"not json \xff"])
    pipeline.close()
    assert list(CaptureReader(str(path), pytest.fail).records()) == [Frame(SPAN), Frame(b"not json \xff")]
    assert pipeline.counts.frames == 2 and pipeline.counts.unparsed == 1
