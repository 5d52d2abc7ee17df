"""``presencectl timeline``: see a session (SPEC §3.6d).

One pass over the capture(s) through the same decoder and filters as ``cat``
into a :class:`~presencectl.core.timeline.Timeline`, then one picture: rows
of coloured blocks in the terminal (fitted to its width; plain ASCII when
colour is off), or ``-o FILE.html`` (a self-contained page: zoom, pan,
hover, the stats table) or ``-o FILE.svg`` (a static image).
"""

from __future__ import annotations

from typing import Annotated

import typer

from presencectl.cli.app import app
from presencectl.cli.commands.live import LiveCommand, _duration, _guard, run_live, source_kind
from presencectl.cli.commands.stats import Clock
from presencectl.cli.option_groups import (
    FILTERS,
    OUTPUT,
    SOURCE_GROUPS,
    Opts,
    check_applicable,
    takes,
)
from presencectl.cli.options import make_decoder
from presencectl.errors import UsageError
from presencectl.ui.console import Environment, choose_color

PICTURE = "Picture"




@app.command("timeline", cls=LiveCommand)
@takes(*SOURCE_GROUPS, FILTERS, OUTPUT.only("color", "utc"))
def timeline_cmd(
    source: Annotated[
        str,
        typer.Argument(help="A capture or NDJSON file (.gz too), - for stdin, or a live SOURCE as for tail (ws://, mqtt://, sio://, http://… --listen, @profile).", show_default=False, metavar="CAPTURE|-|SOURCE"),
    ] = "-",
    *,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="Write FILE.html (zoom, pan, hover; self-contained) or FILE.svg instead of drawing in the terminal (capture files and stdin).", rich_help_panel=PICTURE, show_default=False, metavar="FILE"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing -o file.", rich_help_panel=PICTURE)
    ] = False,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Only the N busiest subjects (rows stay in first-seen order).", rich_help_panel=PICTURE, show_default=False, metavar="N"),
    ] = None,
    clock: Annotated[
        Clock, typer.Option("--clock", help="Time to draw by: auto = when each event was received where the input says (captures), else its own time; event = the event's own time (device clocks can be far off); received = receive time.", rich_help_panel=PICTURE)
    ] = Clock.auto,
    flap_window: Annotated[
        str, typer.Option("--flap-window", help="A state change within this long of the previous one is a flap.", rich_help_panel=PICTURE, metavar="DURATION")
    ] = "5m",
    opts: Opts,
) -> None:
    """See a session: one row per subject, online/offline blocks over time, event ticks by kind.

    In the terminal the rows fit its width (plain ASCII when colour is off);
    a live SOURCE is redrawn in place as events arrive and the whole picture
    stays when it ends (Ctrl-C, --timeout, -n). [bold]-o FILE.html[/] writes
    one self-contained page (zoom with the wheel, drag to pan, hover for the
    event, the stats table below); [bold]-o FILE.svg[/] a static picture for
    tickets that take images.

    [bold]Examples[/]

      presencectl timeline fixtures/mixed.capture.ndjson.gz --utc
      presencectl timeline capture.ndjson.gz --top 20 -o session.html
      presencectl timeline capture.ndjson.gz -s '17kl*' -o session.svg
      presencectl timeline wss://…/activity -H "X-API-Token: $TOKEN"
    """
    env = Environment()

    def body() -> int:
        from presencectl.cli.commands.stats import parse_seconds
        from presencectl.core.timeline import Timeline

        window = parse_seconds(flap_window, "--flap-window")
        timeline = Timeline(clock=clock.value, flap_window=window)
        color = choose_color(opts.color.value, env.stdout_isatty, env.environ)
        if source_kind(source, opts.listen, opts.socketio) != "file":
            if output is not None:
                raise UsageError(
                    "-o draws a finished session: record it first (presencectl record SOURCE -o s.capture.ndjson), "
                    "then presencectl timeline s.capture.ndjson -o FILE"
                )
            return _live(env, source, opts, timeline, color, top)
        return _from_file(env, source, opts, timeline, color, top, output, force)

    _guard(env, body)


def _live(env: Environment, source: str, opts: Opts, timeline, color: bool, top: int | None) -> int:  # type: ignore[no-untyped-def]
    from presencectl.cli.options import OutputArgs
    from presencectl.ui.timeline import live_timeline

    def view(env: Environment, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["color"] = color
        return live_timeline(env, timeline, top=top, **kwargs)

    return run_live(
        env, source, opts.connect_args(), opts.filter_args(), OutputArgs(color=opts.color, utc=opts.utc),
        dialect=opts.dialect, assume_tz=opts.assume_tz, limit=opts.limit, record=None, quiet=False,
        live_table=True, view=view,
    )


def _from_file(env: Environment, path: str, opts: Opts, timeline, color: bool, top: int | None, output: str | None, force: bool) -> int:  # type: ignore[no-untyped-def]
    from presencectl.cli.options import parse_max_line
    from presencectl.engine.runner import Pipeline, run_cat
    from presencectl.ui.timeline import zone_for

    check_applicable("file", opts.connect_args())
    kind_of_output = _output_kind(output) if output else None
    if output is not None:
        from presencectl.transports.files import check_output

        check_output(output, force=force, inputs=[path])  # before the work, not after
    filt = opts.filter_args().build(env, opts.utc)
    decoder = make_decoder(opts.dialect, opts.assume_tz)
    pipeline = Pipeline(decoder, filt, None, None, opts.limit, on_event=timeline.add)
    from presencectl.engine.deadline import DeadlinePassed, alarm, deadline_ending

    deadline = opts.connect_args().deadline
    overall = _duration(deadline, "--deadline") if deadline is not None else None
    status = 0
    try:
        with alarm(overall):  # a stdin that never ends: draw what came before the deadline
            run_cat(env, [path], pipeline, parse_max_line(opts.max_line))
    except DeadlinePassed:
        message, status = deadline_ending(overall, opts.limit, pipeline.counts.shown)
        env.note(message)
    finally:
        pipeline.close()
    counts = pipeline.counts
    if counts.unparsed:
        env.note(f"{counts.unparsed} of {counts.events} payloads could not be parsed")
    name = "stdin" if path == "-" else path
    zone = zone_for(opts.utc)
    if output is None:
        _draw(env, timeline, name, zone, top, color)
        return int(status)
    if kind_of_output == "svg":
        from presencectl.ui.timeline import draw_svg

        text = draw_svg(timeline, source=name, zone=zone, top=top)
    else:
        from presencectl.ui.timeline_html import draw_html

        text = draw_html(timeline, source=name, utc=opts.utc, top=top)
    _write(output, text, force, [path])
    env.note(f"{len(timeline.rows(top=top))} subjects, {timeline.events} events → {output} ({len(text.encode()) / 1024:.0f} KiB)")
    return int(status)


def _output_kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".html", ".htm")):
        return "html"
    if lower.endswith(".svg"):
        return "svg"
    raise UsageError(f"-o {path}: the picture is chosen by the suffix: give FILE.html or FILE.svg")


def _write(path: str, text: str, force: bool, inputs: list[str]) -> None:
    """Write the whole page beside its final name, then move it there (SPEC §5.1)."""
    from presencectl.transports.files import OutputFile

    with OutputFile(path, force=force, inputs=inputs) as out:
        out.file.write(text.encode("utf-8"))


def _draw(env: Environment, timeline, source: str, zone, top: int | None, color: bool) -> None:  # type: ignore[no-untyped-def]
    from presencectl.ui.timeline import draw_terminal

    lines = draw_terminal(timeline, width=env.width, color=color, zone=zone, source=source, top=top)
    env.stdout.write(("\n".join(lines) + "\n").encode("utf-8", "replace"))
    env.stdout.flush()
