"""``cat`` in worker processes writes each block's output from the worker, in file order.

When stdout is a file descriptor, the workers write their rendered blocks
themselves, one after another in file order (``runner._Turns``), instead of
sending them back through a pipe. These tests hold that path to the
single-process output where the order could go wrong (several files, some
read by one process, some by the workers) and where the write can fail
(the reader of the pipe leaves: exit 0, no message, as ever).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from presencectl.engine.runner import PARALLEL_MIN_BYTES
from tests.conftest import FIXTURES, assert_no_traceback, cli_env, run_cli
from tests.test_cat_parallel import make_ndjson

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("ordered") / "big.ndjson"
    path.write_bytes(make_ndjson(PARALLEL_MIN_BYTES + (3 << 20)))
    return path


def test_small_and_large_files_mixed_come_out_in_order(big):
    small = FIXTURES / "samples" / "span-activity.ndjson"
    args = ("cat", str(small), str(big), str(small), str(big), "-f", "json")
    one = run_cli(*args, env=cli_env(PRESENCECTL_JOBS="1"), timeout=300)
    two = run_cli(*args, env=cli_env(PRESENCECTL_JOBS="2"), timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    assert_no_traceback(two)
    assert (two.returncode, two.stdout, two.stderr) == (one.returncode, one.stdout, one.stderr)


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_a_reader_that_leaves_early_ends_the_workers_quietly(big, jobs):
    """`cat BIG | head -c 1000`: exit 0, nothing on stderr, whether one process or workers wrote."""
    env = cli_env(PRESENCECTL_JOBS=jobs)
    proc = subprocess.Popen(
        [sys.executable, "-m", "presencectl", "cat", str(big), "-f", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(1000)
    proc.stdout.close()  # the reader leaves while the workers still write
    err = proc.stderr.read()
    code = proc.wait(timeout=120)
    assert len(head) == 1000
    assert code == 0, err[-2000:]
    assert err == b""
