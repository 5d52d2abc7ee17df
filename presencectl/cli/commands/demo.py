"""``presencectl demo``: the main job on the bundled capture, with no outside server."""

from __future__ import annotations

from typing import Annotated

import typer

from presencectl.cli.app import app, deprecated, guarded
from presencectl.cli.option_groups import FILTERS, OUTPUT, Opts, takes
from presencectl.ui.console import Environment

#: The capture ``demo`` plays: all five vendors, a firmware update, a reconnect storm.
BUNDLED = "mixed.capture.ndjson.gz"


def bundled_capture() -> str:
    """Path of the capture shipped inside the package."""
    from importlib.resources import files

    return str(files("presencectl") / "data" / BUNDLED)


@app.command("demo")
@takes(FILTERS.only("type_", "subject", "kind", "where", "limit"), OUTPUT)
def demo_cmd(
    *,
    speed: Annotated[
        float, typer.Option("--speed", min=0.01, metavar="X", help="How much faster than real time to play the capture.")
    ] = 20.0,
    loop: Annotated[bool, typer.Option("--forever", help="Play the capture again and again until Ctrl-C.")] = False,
    # --loop N counts the plays in replay; here it was this flag.
    loop_alias: Annotated[bool, typer.Option("--loop", hidden=True)] = False,
    opts: Opts,
) -> None:
    """Watch a live stream with no outside server: the built-in replay server plays
    the bundled five-vendor capture on a free loopback port, and presencectl tails
    it through the real WebSocket path. Ctrl-C ends both.

    Idle gaps longer than 2 s are cut short, so a quarter of an hour of device
    traffic (a firmware update, a reconnect storm, webhooks, MQTT, Socket.IO
    and Atmosphere payloads) plays in well under a minute at the default speed.

    [bold]Examples[/]

      presencectl demo
      presencectl demo --live
      presencectl demo --speed 60 -t 'firmware*' -t 'ota*'
      presencectl demo -f json | jq -r .subject | sort | uniq -c
    """
    env = Environment()

    def body() -> None:
        nonlocal loop
        if loop_alias:
            deprecated(env, "demo --loop", "--forever", "replay's --loop N counts the plays")
            loop = True
        from presencectl.cli.commands.live import ConnectArgs, run_live
        from presencectl.engine.replay_server import serve_capture

        server = serve_capture(bundled_capture(), speed=speed, loops=0 if loop else 1, max_gap=2.0)
        try:
            env.note(f"demo: replaying the bundled capture on {server.url} at {speed:g}x (Ctrl-C to stop)")
            run_live(
                env,
                server.url,
                # The server closes with 1000 when the capture ends: that ends the demo.
                ConnectArgs(reconnect=False),
                opts.filter_args(),
                opts.output_args(),
                dialect=None,
                assume_tz="UTC",
                limit=opts.limit,
                record=None,
                quiet=False,
                live_table=opts.live,
            )
        finally:
            server.stop()

    guarded(env, body)
