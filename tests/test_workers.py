"""The forked workers of ``cat`` and ``stats`` on big files (``engine.workers.run_blocks``).

Real processes (fork, pipes, memfds), no sockets. What is held here: results
come back in block order whatever their size, across worker replacement;
an exception in a worker is raised in the parent; a worker that dies is
reported, never waited for; every way out leaves no worker process and no
file descriptor behind. ``tests/test_cat_parallel.py`` holds the same path
end to end to the bytes of one process; the end of this file holds the CLI
under a signal and with a worker killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from presencectl.engine import workers
from presencectl.engine.workers import WorkerDied, run_blocks
from presencectl.errors import PresenceError
from tests.conftest import ROOT, cli_env, wait_until


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def clean():
    """No worker process and no descriptor outlives a run."""
    before = open_fds(), children_of(os.getpid())
    yield
    assert (open_fds(), children_of(os.getpid())) == before


def data_for(block: int) -> bytes:
    """Output of very different sizes: nothing, small, more than a pipe holds, one over the shrink size."""
    if block % 5 == 0:
        return b""
    if block == 7:
        return bytes([block % 251]) * ((workers._SHRINK_ABOVE) + 12345)
    return (f"{block}:".encode() * (block * 997 % 300_000 + 1))


def square(block: int) -> tuple[dict, bytes]:
    fds = len(os.listdir("/proc/self/fd"))
    return {"block": block, "pid": os.getpid(), "fds": fds, "square": [block] * (block % 3000)}, data_for(block)


def test_results_come_back_in_order_with_their_data(monkeypatch, clean):
    monkeypatch.setattr(workers, "WORKER_BLOCKS", 5)  # many replacements on the way
    seen: list[tuple[int, int]] = []
    fds: set[int] = set()

    def collect(value: dict, data: bytes) -> None:
        assert data == data_for(value["block"])
        assert value["square"] == [value["block"]] * (value["block"] % 3000)
        seen.append((value["block"], value["pid"]))
        fds.add(value["fds"])

    run_blocks(iter(range(60)), 2, square, collect)
    assert [block for block, _ in seen] == list(range(60))
    pids = {pid for _, pid in seen}
    assert os.getpid() not in pids
    assert len(pids) == 60 // 5  # each worker took WORKER_BLOCKS blocks, then a fresh one
    # A worker holds its own pipes and slots only: one holding another's task
    # pipe would keep that one from seeing the end of its blocks.
    assert len(fds) == 1, fds


def test_one_worker_and_no_blocks(clean):
    seen: list[int] = []
    run_blocks(iter(range(3)), 1, square, lambda value, data: seen.append(value["block"]))
    run_blocks(iter(()), 2, square, lambda value, data: seen.append(-1))
    assert seen == [0, 1, 2]


def fails_on_four(block: int) -> tuple[int, bytes]:
    if block == 4:
        raise PresenceError("bad block 4")
    return block, b"x"


def test_an_exception_in_a_worker_is_raised_here_after_the_blocks_before_it(clean):
    seen: list[int] = []
    with pytest.raises(PresenceError, match="bad block 4"):
        run_blocks(iter(range(20)), 2, fails_on_four, lambda value, data: seen.append(value))
    assert seen == [0, 1, 2, 3]


def unpicklable(block: int) -> tuple[object, bytes]:
    return (lambda: block), b""


def test_a_result_that_does_not_pickle_is_an_error_not_a_hang(clean):
    with pytest.raises(RuntimeError, match="in a worker process"):
        run_blocks(iter(range(4)), 2, unpicklable, lambda value, data: None)


@pytest.mark.parametrize(
    ("death", "how"),
    [(lambda: os._exit(7), "exit status 7"), (lambda: os.kill(os.getpid(), signal.SIGKILL), "killed by SIGKILL")],
    ids=["exit", "sigkill"],
)
def test_a_worker_that_dies_is_reported(death, how, clean):
    def work(block: int) -> tuple[int, bytes]:
        if block == 5:
            death()
        return block, b""

    seen: list[int] = []
    with pytest.raises(WorkerDied, match=f"a worker process ended \\({how}\\) before it handed back its block"):
        run_blocks(iter(range(50)), 2, work, lambda value, data: seen.append(value))
    assert seen == [0, 1, 2, 3, 4]  # every block before it, whenever the death was noticed


def test_a_death_noticed_while_sending_is_reported_at_its_block(clean):
    """The parent can find a worker dead when it sends it more (a closed task pipe) before
    the blocks ahead of the dead one are taken: those still come first. (A CI run caught
    the send raising at once, ahead of them.)"""
    import time

    def work(block: int) -> tuple[int, bytes]:
        if block == 3:
            os._exit(3)  # the odd worker: block 1 handed back, dead on block 3
        if block % 2 == 0:
            time.sleep(0.05)  # the even worker is slow: block 5 is sent to the dead one before block 2 is taken
        return block, b""

    seen: list[int] = []
    with pytest.raises(WorkerDied, match="exit status 3"):
        run_blocks(iter(range(20)), 2, work, lambda value, data: seen.append(value))
    assert seen == [0, 1, 2]


def test_a_worker_killed_between_blocks_is_reported(clean):
    """Killed after it handed back a block: the next block sent to it, or taken from it, finds out
    (a write to its closed task pipe is not the output's closed pipe, which ends quietly)."""
    victims: list[int] = []

    def collect(value: tuple[int, int], data: bytes) -> None:
        block, pid = value
        if block == 1:
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", "the worker to die")
            victims.append(pid)

    with pytest.raises(WorkerDied, match="killed by SIGKILL"):
        run_blocks(iter(range(40)), 2, lambda block: ((block, os.getpid()), b""), collect)
    assert victims


def test_an_interrupt_here_ends_the_workers(clean):
    def collect(value: int, data: bytes) -> None:
        if value == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_blocks(iter(range(100)), 2, lambda block: (block, b"y" * 100_000), collect)


# ---------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """24 MB of Span lines: well over the 8 MB where cat and stats take workers."""
    line = (ROOT / "fixtures" / "samples" / "span-activity.ndjson").read_bytes().splitlines(keepends=True)[0]
    path = tmp_path_factory.mktemp("workers") / "big.ndjson"
    path.write_bytes(line * (24_000_000 // len(line)))
    return path


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def start(*args: str) -> subprocess.Popen:
    # (stdout is a pipe nobody reads yet: cat stalls on it, its workers started)
    return subprocess.Popen(
        [sys.executable, "-m", "presencectl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(PRESENCECTL_JOBS="2"),
        cwd=ROOT,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", [["cat", "-f", "json"], ["stats"]], ids=["cat", "stats"])
def test_a_signal_ends_the_command_and_its_workers(big_file, command, signum):
    proc = start(*command, str(big_file))
    try:
        workers_seen = wait_until(lambda: len(children_of(proc.pid)) >= 2 and children_of(proc.pid), "two workers")
        # Stopped, it cannot finish before the signal; the signal waits for SIGCONT.
        proc.send_signal(signal.SIGSTOP)
        proc.send_signal(signum)
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if signum == signal.SIGINT else 143), err
    assert b"Traceback" not in err, err
    for pid in workers_seen:
        wait_until(lambda pid=pid: not alive(pid), f"worker {pid} to end")


def test_a_killed_worker_is_one_error_line(big_file):
    proc = start("cat", "-f", "json", str(big_file))
    try:
        victim = wait_until(lambda: children_of(proc.pid)[:1], "a worker")[0]
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    lines = err.decode().splitlines()
    assert [line for line in lines if "error" in line] == [
        "presencectl: error: a worker process ended (killed by SIGKILL) before it handed back its block; "
        "PRESENCECTL_JOBS=1 reads in one process"
    ], err
    assert out.count(b"\n") < big_file.read_bytes().count(b"\n")  # it stopped; what came out came whole
    assert out == b"" or out.endswith(b"}\n")


@pytest.mark.parametrize("command", [["cat", "-f", "json"], ["stats", "--json"]], ids=["cat", "stats"])
def test_a_closed_output_pipe_ends_quietly_with_the_workers(big_file, command):
    """``| head``: exit 0, nothing on stderr, no worker left (SPEC §5)."""
    proc = start(*command, str(big_file))
    try:
        workers_seen = wait_until(lambda: children_of(proc.pid), "a worker")
        assert proc.stdout.read(1)
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert b"error" not in err and b"Traceback" not in err, err
    for pid in workers_seen:
        wait_until(lambda pid=pid: not alive(pid), f"worker {pid} to end")
