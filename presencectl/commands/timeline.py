"""``presencectl timeline``: see a session (SPEC §3.6d).

One pass over the capture(s) through the same decoder and filters as ``cat``
into a :class:`~presencectl.core.timeline.Timeline`, then one picture: rows
of coloured blocks in the terminal (fitted to its width; plain ASCII when
colour is off), or ``-o FILE.html`` (a self-contained page: zoom, pan,
hover, the stats table) or ``-o FILE.svg`` (a static image).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from presencectl.app import app, guarded
from presencectl.console import Environment, choose_color
from presencectl.errors import UsageError
from presencectl.options import (
    AssumeTzOpt,
    ColorMode,
    ColorOpt,
    DialectOpt,
    FilterArgs,
    GrepOpt,
    KeepaliveOpt,
    KindOpt,
    LimitOpt,
    SinceOpt,
    SubjectOpt,
    TypeOpt,
    UntilOpt,
    UtcOpt,
    WhereOpt,
    make_decoder,
)

PICTURE = "Picture"


class Clock(StrEnum):
    received = "received"
    event = "event"


@app.command("timeline")
def timeline_cmd(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Capture or NDJSON files (.gz too); - or nothing for stdin.", show_default=False, metavar="CAPTURE"),
    ] = None,
    *,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="Write FILE.html (zoom, pan, hover; self-contained) or FILE.svg instead of drawing in the terminal.", rich_help_panel=PICTURE, show_default=False, metavar="FILE"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing -o file.", rich_help_panel=PICTURE)
    ] = False,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Only the N busiest subjects (rows stay in first-seen order).", rich_help_panel=PICTURE, show_default=False, metavar="N"),
    ] = None,
    clock: Annotated[
        Clock, typer.Option("--clock", help="Time to draw by: when each event was received (else its own time), or the event's own time (device clocks can be far off).", rich_help_panel=PICTURE)
    ] = Clock.received,
    flap_window: Annotated[
        str, typer.Option("--flap-window", help="A state change within this long of the previous one is a flap.", rich_help_panel=PICTURE, metavar="DURATION")
    ] = "5m",
    type_: TypeOpt = None,
    subject: SubjectOpt = None,
    dialect: DialectOpt = None,
    kind: KindOpt = None,
    where: WhereOpt = None,
    grep: GrepOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    keepalive: KeepaliveOpt = False,
    color: ColorOpt = ColorMode.auto,
    utc: UtcOpt = False,
    assume_tz: AssumeTzOpt = "UTC",
) -> None:
    """See a session: one row per subject, online/offline blocks over time, event ticks by kind.

    In the terminal the rows fit its width (plain ASCII when colour is off);
    [bold]-o FILE.html[/] writes one self-contained page (zoom with the wheel,
    drag to pan, hover for the event, the stats table below); [bold]-o
    FILE.svg[/] a static picture for tickets that take images.

    [bold]Examples[/]

      presencectl timeline fixtures/mixed.capture.ndjson.gz --utc
      presencectl timeline capture.ndjson.gz --top 20 -o session.html
      presencectl timeline capture.ndjson.gz -s '17kl*' -o session.svg
    """
    env = Environment()

    def body() -> None:
        from presencectl.commands.stats import parse_seconds
        from presencectl.core.timeline import Timeline
        from presencectl.runner import Pipeline, run_cat
        from presencectl.ui.timeline import zone_for

        paths = files or ["-"]
        kind_of_output = _output_kind(output) if output else None
        if output is not None:
            from presencectl.transports.files import check_output

            check_output(output, force=force, inputs=paths)  # before the work, not after
        window = parse_seconds(flap_window, "--flap-window")
        filt = FilterArgs(type_, subject, kind, where, grep, since, until, keepalive).build(env, utc)
        decoder = make_decoder(dialect, assume_tz)
        timeline = Timeline(clock=clock.value, flap_window=window)
        pipeline = Pipeline(decoder, filt, None, None, limit, on_event=timeline.add)
        try:
            counts = run_cat(env, paths, pipeline)
        finally:
            pipeline.close()
        if counts.unparsed:
            env.note(f"{counts.unparsed} of {counts.events} payloads could not be parsed")
        source = ", ".join("stdin" if p == "-" else p for p in paths)
        zone = zone_for(utc)
        if output is None:
            _draw(env, timeline, source, zone, top, choose_color(color.value, env.stdout_isatty, env.environ))
            return
        if kind_of_output == "svg":
            from presencectl.ui.timeline import draw_svg

            text = draw_svg(timeline, source=source, zone=zone, top=top)
        else:
            from presencectl.ui.timeline_html import draw_html

            text = draw_html(timeline, source=source, utc=utc, top=top)
        _write(output, text, force, paths)
        env.note(f"{len(timeline.rows(top=top))} subjects, {timeline.events} events → {output} ({len(text.encode()) / 1024:.0f} KiB)")

    guarded(env, body)


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
