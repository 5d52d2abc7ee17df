"""MQTT receive speed: presencectl's MQTT source against mosquitto_sub and a bare paho loop.

Run by hand::

    python benchmarks/bench_mqtt.py [--messages 200000] [--rounds 2] [--in-process]

A local ``mosquitto`` (generated config: loopback, anonymous, no persistence,
``max_queued_messages 0`` so nothing queued is dropped) holds one persistent
session (clean session off, ``#`` at QoS 1) per subscriber. N small JSON
messages (the Aliyun ``thing.status`` sample) are published at QoS 1 while
the subscribers are away, so each finds all N queued when it connects and
drains them as fast as it can. Subscribers, each a subprocess, in the same run:

- ``mosquitto_sub -t '#' -C N -q 1 -c -i …`` (C, libmosquitto: the ceiling);
- a bare paho-mqtt 2 ``loop_forever()`` whose ``on_message`` only counts (the
  Python library's ceiling, the baseline of the target);
- presencectl: the real ``presencectl tail mqtt://… -f json -n N --qos 1
  --client-id … --no-clean-session``; with ``--in-process``, ``MqttSource``
  through ``Session`` → decode → ``-f json`` render → ``Output`` to /dev/null
  in one script instead.

Each is timed from process start to exit. A second pass with one queued
message measures each client's fixed cost (start-up, connect); the *net* rate
is (N - 1) / (time for N - time for 1), so Python's start-up does not count
against the Python clients. RSS is sampled from /proc every 0.1 s.

Target (issue 4): presencectl ≥ 80 % of the bare paho loop; the ratio to
mosquitto_sub is reported too. The machine may be shared: the load average is
printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "samples" / "aliyun" / "status.json"

PAHO_CLIENT = r"""
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, n, cid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
count = 0
def on_message(client, userdata, msg):
    global count
    count += 1
    if count >= n:
        client.disconnect()
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False)
c.on_message = on_message
c.on_connect = lambda c, u, f, rc, p: c.subscribe("#", 1)
c.connect("127.0.0.1", port, 60)
c.loop_forever()
print(count)
"""

PRESENCECTL_CLIENT = r"""
import sys
from presencectl.ui.console import Environment, Output
from presencectl.engine.session import Session
from presencectl.cli.options import ColorMode, FilterArgs, Format, OutputArgs, TimeSource, make_decoder
from presencectl.core.render import make_renderer
from presencectl.engine.runner import Pipeline
from presencectl.transports.mqtt import mqtt_source_from_args
url, n, cid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
env = Environment()
source = mqtt_source_from_args(url, topics=["#"], qos=1, client_id=cid, clean_session=False, notice=env.note)
filters = FilterArgs(None, None, None, None, None, None, None, False)
output = OutputArgs(Format.json, ColorMode.never, False, TimeSource.event, False)
render = make_renderer(output.render_options(env))
pipeline = Pipeline(make_decoder(None, "UTC"), filters.build(env, False), render, Output(env.stdout, live=False), n)
try:
    Session(source, pipeline, env, reconnect=False).run()
finally:
    pipeline.close()
print(pipeline.counts.shown, file=sys.stderr)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        "\n".join(
            [
                "per_listener_settings false",
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                "max_queued_messages 0",
                "max_queued_bytes 0",
                *(["user root"] if os.geteuid() == 0 else []),  # else it cannot write the log here
                f"log_dest file {directory / 'mosquitto.log'}",
                "log_type error",
                "log_type warning",
            ]
        )
        + "\n"
    )
    proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("mosquitto did not start")


def make_sessions(port: int, client_ids: list[str]) -> None:
    """A persistent session with ``#`` at QoS 1 for each client id, then away."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    for cid in client_ids:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False)
        done: list[bool] = []
        c.on_subscribe = lambda *a, done=done: done.append(True)
        c.connect("127.0.0.1", port, 60)
        c.subscribe("#", 1)
        deadline = time.monotonic() + 10
        while not done and time.monotonic() < deadline:
            c.loop(0.1)
        c.disconnect()
        c.loop(0.1)


def publish(port: int, topic: str, payload: str, count: int) -> float:
    """Publish ``count`` copies at QoS 1 with ``mosquitto_pub --repeat``; returns the seconds it took.

    (``mosquitto_pub -l`` fed 200,000 lines quits before all are sent: about
    a third arrived here.)
    """
    start = time.perf_counter()
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1",
         "-m", payload, "--repeat", str(count)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def run_client(argv: list[str]) -> tuple[float, list[int], str]:
    """Run one subscriber to completion: (wall seconds, RSS samples KiB, stderr tail)."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.PIPE, cwd=ROOT)
        samples: list[int] = []
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            rss = rss_kib(proc.pid)
            if rss:
                samples.append(rss)
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    text = err.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]}… exited {proc.returncode}: {text[-500:]}")
    return elapsed, samples, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of all clients; the best rate counts")
    parser.add_argument(
        "--in-process", action="store_true",
        help="drive the MQTT source through an in-process Session instead of the real `presencectl tail mqtt://… -f json -n N`",
    )
    opts = parser.parse_args()
    n = opts.messages
    sample = __import__("json").loads(SAMPLE.read_text())
    topic = sample["topic"]
    payload = __import__("json").dumps(sample["payload"], separators=(",", ":"))

    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(Path(tmp))
        url = f"mqtt://127.0.0.1:{port}"
        try:
            def plan(count: int) -> list[tuple[str, list[str]]]:
                if not opts.in_process:
                    ours = [sys.executable, "-m", "presencectl", "tail", url, "-T", "#", "-f", "json",
                            "-n", str(count), "--qos", "1", "--client-id", "bench-presencectl",
                            "--no-clean-session", "--no-reconnect"]
                else:
                    ours = [sys.executable, "-c", PRESENCECTL_CLIENT, url, str(count), "bench-presencectl"]
                return [
                    ("mosquitto_sub -t '#'", ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "#",
                                              "-C", str(count), "-q", "1", "-c", "-i", "bench-mosquitto-sub"]),
                    ("bare paho loop_forever", [sys.executable, "-c", PAHO_CLIENT, str(port), str(count), "bench-paho"]),
                    ("presencectl tail -f json" + (" (Session)" if opts.in_process else " (CLI)"), ours),
                ]

            ids = ["bench-mosquitto-sub", "bench-paho", "bench-presencectl"]
            make_sessions(port, ids)
            print(f"{n:,} messages of {len(payload)} bytes on {topic}, QoS 1, queued per subscriber")
            print(load())
            # Fixed cost per client: start-up, connect, one message.
            fixed: dict[str, float] = {}
            publish(port, topic, payload, 1)
            for name, argv in plan(1):
                fixed[name] = run_client(argv)[0]
            best: dict[str, dict] = {}
            for round_no in range(opts.rounds):
                took = publish(port, topic, payload, n)
                print(f"round {round_no + 1}: published {n:,} in {took:.1f} s; {load()}")
                for name, argv in plan(n):
                    seconds, rss, _ = run_client(argv)
                    net = (n - 1) / max(1e-9, seconds - fixed[name])
                    rss_text = ""
                    if len(rss) >= 4:  # a quarter of the way in → the end: flat means no growth per message
                        rss_text = f"RSS {rss[len(rss) // 4] // 1024}→{rss[-1] // 1024} MiB (max {max(rss) // 1024})"
                    print(f"  {name:34s} {n / seconds:9,.0f} msg/s wall {seconds:6.2f} s   "
                          f"{net:9,.0f} msg/s net of {fixed[name]:.2f} s start-up   {rss_text}")
                    result = {"wall": n / seconds, "net": net}
                    if name not in best or result["net"] > best[name]["net"]:
                        best[name] = result
        finally:
            broker.terminate()
            broker.wait()

    names = list(best)
    mosq, paho, ours = (best[k] for k in names)
    print("\nbest of rounds (net of start-up):")
    for name in names:
        r = best[name]
        print(f"  {name:34s} {r['net']:9,.0f} msg/s   {r['net'] / paho['net']:6.1%} of paho   "
              f"{r['net'] / mosq['net']:6.1%} of mosquitto_sub")
    ratio = ours["net"] / paho["net"]
    print(f"\npresencectl / bare paho = {ratio:.0%} (target 80%: {'ok' if ratio >= 0.8 else 'MISSED'}); "
          f"presencectl / mosquitto_sub = {ours['net'] / mosq['net']:.0%}; "
          f"wall-clock ratios {ours['wall'] / paho['wall']:.0%} and {ours['wall'] / mosq['wall']:.0%}")
    print(load())


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
