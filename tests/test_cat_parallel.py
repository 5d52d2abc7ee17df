"""``cat`` and ``stats`` on large files: the worker-process path gives the same bytes as one process.

A file over the 8 MB threshold (``runner.PARALLEL_MIN_BYTES``) is decoded by
forked workers in 1 MB blocks (``runner._cat_parallel``, ``engine.workers``); the
blocks are cut before a line that opens a JSON document. The data mixes every
vendor sample, pretty-printed documents (some spanning a block boundary),
broken lines, blank lines and Atmosphere frames, so a block boundary falls
inside each kind of thing somewhere. ``PRESENCECTL_JOBS=1`` is the reference.
"""

from __future__ import annotations

import gzip
import json

import pytest

from presencectl.engine.runner import PARALLEL_MIN_BYTES
from tests.conftest import FIXTURES, assert_no_traceback, cli_env, run_cli

pytestmark = pytest.mark.slow


def sample_lines() -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted((FIXTURES / "samples").glob("*.ndjson")):
        lines += [line for line in path.read_bytes().splitlines() if line.strip()]
    lines += (FIXTURES / "samples" / "navixy-atmosphere-frames.txt").read_bytes().splitlines()
    return lines


def pretty(line: bytes) -> list[bytes]:
    """A sample pretty-printed over several lines (a multi-line document)."""
    return json.dumps(json.loads(line), indent=2).encode().splitlines()


def make_ndjson(target_bytes: int) -> bytes:
    samples = sample_lines()
    objects = [s for s in samples if s.startswith(b"{")]
    out: list[bytes] = []
    size = i = 0
    while size < target_bytes:
        i += 1
        chunk = [samples[i % len(samples)]]
        if i % 7 == 0:
            chunk = pretty(objects[i % len(objects)])
        elif i % 53 == 0:
            chunk = [b'{"event": "broken', b""]  # a broken line and a blank one
        elif i % 97 == 0:
            batch = [json.loads(objects[i % len(objects)]), json.loads(objects[(i + 1) % len(objects)])]
            chunk = json.dumps(batch, indent=2).encode().splitlines()  # a pretty-printed batch
        out += chunk
        size += sum(len(c) + 1 for c in chunk)
    return b"\n".join(out) + b"\n"


@pytest.fixture(scope="module")
def big_ndjson(tmp_path_factory):
    path = tmp_path_factory.mktemp("parallel") / "big.ndjson"
    path.write_bytes(make_ndjson(PARALLEL_MIN_BYTES + (1 << 20)))
    assert path.stat().st_size > PARALLEL_MIN_BYTES
    return path


@pytest.fixture(scope="module")
def big_capture_gz(tmp_path_factory):
    """A capture over the gzip threshold (2 MB compressed) made of the bundled captures' records."""
    records = []
    for path in sorted(FIXTURES.glob("*.capture.ndjson")):
        if path.name.startswith(("malformed", "truncated")):
            continue
        records += path.read_bytes().splitlines()[1:]
    header = (FIXTURES / "span-activity.capture.ndjson").read_bytes().splitlines()[0]
    path = tmp_path_factory.mktemp("parallel") / "big.capture.ndjson.gz"
    body = []
    size = 0
    i = 0
    # random-ish order so that the gzip ratio stays realistic (repeats compress too well)
    while size < 2 * PARALLEL_MIN_BYTES:
        record = records[(i * 7919) % len(records)]
        body.append(record)
        size += len(record) + 1
        i += 1
    path.write_bytes(gzip.compress(b"\n".join([header, *body]) + b"\n", 6))
    return path


def cat_both(path, *args):
    env1 = cli_env(PRESENCECTL_JOBS="1")
    env2 = cli_env(PRESENCECTL_JOBS="2")
    one = run_cli("cat", str(path), *args, env=env1, timeout=300)
    two = run_cli("cat", str(path), *args, env=env2, timeout=300)
    return one, two


@pytest.mark.parametrize(
    "args",
    [("-f", "json"), ("-f", "compact", "-t", "client*", "-t", "state", "-v"), ("-f", "raw", "--kind", "unparsed")],
    ids=["json", "compact-filtered", "raw-unparsed"],
)
def test_parallel_cat_is_byte_for_byte_the_single_process_output(big_ndjson, args):
    one, two = cat_both(big_ndjson, *args)
    assert one.returncode == 0, one.stderr[-2000:]
    assert_no_traceback(two)
    assert two.returncode == one.returncode
    assert one.stdout.count(b"\n") > 100
    assert two.stdout == one.stdout
    assert two.stderr == one.stderr


def test_parallel_cat_of_a_gzipped_capture(big_capture_gz):
    one, two = cat_both(big_capture_gz, "-f", "json")
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.stdout == one.stdout and two.stderr == one.stderr and two.returncode == 0


def test_parallel_stats_counts_like_one_process(big_ndjson):
    one = run_cli("stats", str(big_ndjson), env=cli_env(PRESENCECTL_JOBS="1"), timeout=300)
    two = run_cli("stats", str(big_ndjson), env=cli_env(PRESENCECTL_JOBS="2"), timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    assert (two.returncode, two.stdout, two.stderr) == (one.returncode, one.stdout, one.stderr)
