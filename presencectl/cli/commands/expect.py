"""``presencectl expect``: presence checks a firmware CI job can run (SPEC §3.6b).

The sources, connection options and profiles are ``tail``'s
(:mod:`presencectl.cli.commands.live`). Frames go through the one
:class:`~presencectl.engine.runner.Pipeline` path (recorded, decoded, rendered) and
every event reaches the pure :class:`~presencectl.core.expect.Expectation`
through the pipeline's ``on_event`` hook, with the time it arrived: the
session's monotonic clock for a live source, the capture's own ``t`` for a
file (fast, no waiting). The live session's ``deadline_at`` follows the
current step's limit, so a step that times out ends the session on time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from presencectl.cli.app import app
from presencectl.cli.commands.live import ForceOpt, LiveCommand, SourceArg, _guard
from presencectl.cli.option_groups import FILTERS, OUTPUT, SOURCE_GROUPS, ConnectArgs, Opts, takes
from presencectl.cli.options import ColorMode
from presencectl.errors import UsageError
from presencectl.ui.console import Environment

if TYPE_CHECKING:
    from presencectl.core.events import Event
    from presencectl.core.expect import Expectation, Outcome

EXPECT = "Expectations"
REPORT = "Report"

StepOpt = Annotated[
    list[str] | None,
    typer.Option("--step", metavar="EXPR", help="The next event to wait for, in order (repeatable): filter terms that must all hold, e.g. 'subject=17kl* type=clientConnected', 'type=firmwareCurrent data.version=1.5.0' (type=, subject=, kind= as -t/-s/--kind; any other term as -w).", rich_help_panel=EXPECT, show_default=False),
]
WithinOpt = Annotated[
    list[str] | None,
    typer.Option("--within", metavar="DURATION", help="After a --step or --presence: it must pass within this long of the previous step's match (the first: of the start). Default: no limit but --deadline.", rich_help_panel=EXPECT, show_default=False),
]
PresenceStepOpt = Annotated[
    list[str] | None,
    typer.Option("--presence", metavar="SUBJECT=online|offline", help="A step on the presence tracker: passes once a subject matching the SUBJECT glob is in that state, by its dialect's notion of presence (repeatable, in order with --step).", rich_help_panel=EXPECT, show_default=False),
]
NeverOpt = Annotated[
    list[str] | None,
    typer.Option("--never", metavar="EXPR", help="Fail at once on an event matching EXPR, e.g. kind=error, type=imeiMismatch (repeatable).", rich_help_panel=EXPECT, show_default=False),
]
JunitOpt = Annotated[
    str | None,
    typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report (one test case per step and per --never) for GitLab, GitHub or Jenkins.", rich_help_panel=REPORT, show_default=False),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable verdict on stdout instead of step lines and events.", rich_help_panel=REPORT)
]
RecordOpt = Annotated[
    str | None,
    typer.Option("--record", metavar="FILE", help="Keep the evidence: write a capture of everything received (.gz compresses).", rich_help_panel=REPORT, show_default=False),
]
QuietOpt = Annotated[
    bool, typer.Option("-q", "--quiet", help="Show step lines and the verdict, not the events.", rich_help_panel=REPORT)
]

#: The options whose relative order matters, by parameter name.
_ORDERED = ("step", "presence", "within")


class ExpectCommand(LiveCommand):
    """``tail``'s command class, remembering the order of ``--step``/``--presence``/``--within``;
    a profile's filter keys are skipped (they shape what tail shows).

    Click hands each repeatable option its values as one list; which
    ``--within`` follows which step is only in the parser's record of the
    order the options came in, kept here in ``ctx.meta``.
    """

    #: A profile's display filters are tail's business: expect's steps say what matters.
    ignored_profile_keys = ("type", "subject", "kind", "where", "grep", "keepalive")

    def make_parser(self, ctx: Any) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, rest, order = parse(args=args)
            ctx.meta["expect.order"] = [p.name for p in order if p.name in _ORDERED]
            return opts, rest, order

        parser.parse_args = parse_args
        return parser


def plan_items(order: list[str], values: dict[str, list[str] | None]) -> list[tuple[str, str]]:
    """Interleave the values of each ordered option as they came on the command line.

    >>> plan_items(["step", "within", "presence"], {"step": ["type=a"], "within": ["5"], "presence": ["d=online"]})
    [('step', 'type=a'), ('within', '5'), ('presence', 'd=online')]
    """
    queues = {name: list(values.get(name) or []) for name in _ORDERED}
    items = [(name, queues[name].pop(0)) for name in order if queues[name]]
    # Values that came from elsewhere than the command line (none today) go last.
    items += [(name, value) for name in _ORDERED for value in queues[name]]
    return items


def run_expect(
    env: Environment,
    source_text: str,
    args: ConnectArgs,
    items: list[tuple[str, str]],
    nevers: list[str],
    *,
    dialect: str | None,
    assume_tz: str,
    color: ColorMode,
    utc: bool,
    quiet: bool,
    as_json: bool,
    junit: str | None,
    record: str | None,
    force: bool = False,
) -> int:
    """The body of ``expect``; returns the exit status (0 passed, 3 not)."""
    import time
    from datetime import UTC, datetime

    from presencectl.cli.commands.live import _duration, build_source, source_kind
    from presencectl.cli.option_groups import check_applicable
    from presencectl.cli.options import make_decoder
    from presencectl.core.capture import redact_url
    from presencectl.core.expect import Expectation, parse_never, parse_plan
    from presencectl.core.junit import junit_xml
    from presencectl.core.render import RenderOptions, make_renderer
    from presencectl.core.times import seconds_of
    from presencectl.engine.runner import Pipeline, open_pipeline
    from presencectl.engine.session import Session, summarize
    from presencectl.transports.files import OutputFile, check_output
    from presencectl.ui.console import Output, choose_color

    steps = parse_plan(items)
    never_checks = [parse_never(text) for text in nevers]
    if not steps and not never_checks:
        raise UsageError("expect needs at least one --step, --presence or --never")
    if record == "-" or junit == "-":
        raise UsageError("--record and --junit need a file name (not -)")
    kind = source_kind(source_text, args.listen, args.sio.socketio)
    check_applicable(kind, args)
    inputs = [source_text] if kind == "file" else []
    if junit is not None:
        check_output(junit, force=force, inputs=[*inputs, *([record] if record else [])])
    overall = _duration(args.deadline, "--deadline") if args.deadline is not None else None
    idle = _duration(args.timeout, "--timeout") if args.timeout is not None else None
    decoder = make_decoder(dialect, assume_tz)
    zone = UTC if utc else None
    paint = not as_json and choose_color(color.value, env.stdout_isatty, env.environ)
    # As tail: a file (stdin above all) flushes every event, a live session
    # whenever the network has nothing more buffered; step lines flush at once.
    out = None if as_json else Output(env.stdout, live=kind == "file")
    render = None
    if out is not None and not quiet:
        render = make_renderer(
            RenderOptions(fmt="pretty", color=paint, zone=zone, verbose=True, tty=env.stdout_isatty, width=env.width)
        )
    session: Session | None = None

    def warn(message: str) -> None:
        (session or env).warn(message)

    source = build_source(source_text, kind, args, env, warn) if kind != "file" else None
    started_wall = time.time()
    clock = time.monotonic
    # A live source's time is the session clock from now; a file's is its own.
    expectation = Expectation(steps, never_checks, start=clock() if source is not None else None, deadline=overall)

    def say(outcomes: list[Outcome]) -> None:
        if out is not None and outcomes:
            for outcome in outcomes:
                out.write(outcome.line(zone, paint).encode("utf-8", "replace") + b"\n")
            out.flush()

    class Decided(Exception):
        """The verdict is in: stop reading."""

    def event_time(event: Event) -> float | None:
        if event.received is not None:
            return event.received
        return seconds_of(event.time) if event.time is not None else None

    now_of = (lambda event: clock()) if source is not None else event_time

    def on_event(event: Event) -> None:
        say(expectation.event(event, now_of(event)))
        if expectation.done:
            raise Decided
        if session is not None:
            session.deadline_at = expectation.due()

    # Signals wait while a frame is recorded and shown (presencectl.engine.signals), as in tail.
    pipeline, gate = open_pipeline(
        lambda recorder, gate: Pipeline(decoder, None, render, out, None, recorder, on_event, gate=gate),
        record,
        endpoint=source.endpoint if source is not None else source_text,
        transport=source.transport if source is not None else "file",
        started_wall=started_wall,
        network=source is not None,
        topics=getattr(source, "topics", None),
        headers=args.headers,
        force=force,
        inputs=inputs,
    )
    summary: str | None = None
    finished = False
    try:
        gate.leave()  # raises a signal that came during the set-up
        if source is None:
            from presencectl.cli.options import parse_max_line

            _run_file(env, source_text, pipeline, expectation, overall, say, Decided, parse_max_line(args.max_line))
        else:
            session = Session(
                source, pipeline, env, reconnect=args.reconnect, idle_timeout=idle, clock=clock, capture=record
            )
            session.deadline_at = expectation.due()
            try:
                ending = session.run()
            except Decided:
                pass
            else:
                if ending.reason == "deadline":
                    say(expectation.advance(clock()))
                if not expectation.done:
                    env.note(ending.message)
                    say(expectation.end(clock(), "the stream ended"))
        finished = True
    finally:
        gate.poll(True)
        gate.enter()
        try:
            # Never connected: the error says so; no empty capture, any older file untouched.
            never_connected = session is not None and session.state == "connecting"
            pipeline.close(keep_empty=not never_connected)
            if not never_connected:
                summary = session.summary() if session is not None else summarize(pipeline, None, 0, record)
                if not finished:  # interrupted: say it now, there is no verdict
                    env.note(summary)
        finally:
            gate.depth = 0
            gate.__exit__()
            gate.raise_pending()  # a signal during the clean-up: its exit status
    verdict = expectation.verdict()
    if junit is not None:
        suite = f"presencectl expect {redact_url(source_text) if source is not None else source_text}"
        stamp = datetime.fromtimestamp(started_wall, UTC).isoformat(timespec="seconds")
        with OutputFile(junit, force=force, inputs=inputs) as report:
            report.file.write(junit_xml(verdict, suite, stamp))
    if as_json:
        import orjson

        env.stdout.write(orjson.dumps(verdict.to_dict()) + b"\n")
        env.stdout.flush()
    else:
        assert out is not None
        out.write(verdict.line(paint).encode() + b"\n")
        out.flush()
    if summary is not None:
        env.note(summary)
    return verdict.status


def _run_file(
    env: Environment,
    path: str,
    pipeline: Any,
    expectation: Expectation,
    overall: float | None,
    say: Any,
    decided: type[Exception],
    max_line: int,
) -> None:
    """A capture or NDJSON file, or stdin: the capture's own time; ``--deadline``
    on a pipe is also a wall-clock limit (a stdin that never ends)."""
    import os
    import stat

    from presencectl.engine.deadline import DeadlinePassed, alarm
    from presencectl.engine.runner import feed_lines
    from presencectl.transports.files import CaptureReader

    try:
        regular = path != "-" and stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        regular = True  # CaptureReader says what is wrong with it
    reader = None
    try:
        with alarm(None if regular else overall, pipeline.gate):
            reader = CaptureReader(path, env.warn, max_line)  # reads the first line: may wait on a pipe
            header = reader.header
            if header is not None and header.started is not None and expectation.start is None:
                expectation.start = expectation.started = header.started
            feed_lines(reader, reader.lines(), pipeline)
        say(expectation.end(expectation.last, "the stream ended"))
    except decided:
        return
    except DeadlinePassed:
        say(expectation.end(expectation.last, f"the --deadline of {overall:g} s passed"))
    finally:
        if reader is not None:
            reader.close()


@app.command("expect", cls=ExpectCommand)
@takes(*SOURCE_GROUPS, FILTERS.only("dialect", "assume_tz"), OUTPUT.only("color", "utc"))
def expect_cmd(
    ctx: typer.Context,
    source: SourceArg,
    *,
    step: StepOpt = None,
    within: WithinOpt = None,
    presence: PresenceStepOpt = None,
    never: NeverOpt = None,
    junit: JunitOpt = None,
    json_: JsonOpt = False,
    record: RecordOpt = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    opts: Opts,
) -> None:
    """Check that events happen, in order and in time: presence checks for CI.

    Same sources, connection options and profiles as tail (live endpoints,
    capture files, stdin). Exit 0 when every step passed; 3 when a step's
    --within or the --deadline passed, the stream ended first, or a --never
    matched; 1 and 2 as usual. On a capture file, time is the capture's own.

    [bold]Examples[/]

      presencectl expect wss://api.lab5e.com/span/collections/abc/activity \\
        -H "X-API-Token: $TOKEN" --presence 17kl14hm46h4c2=online --within 1m \\
        --step 'subject=17kl* type=firmwareCurrent data.version=1.5.0' \\
        --within 5m --never kind=error --junit report.xml
      presencectl expect mqtt://broker -T 'devices/#' --deadline 60 \\
        --step 'type=online subject=dev42'
      presencectl expect session.capture.ndjson --step type=clientConnected \\
        --never type=imeiMismatch --json
    """
    env = Environment()
    items = plan_items(ctx.meta.get("expect.order", []), {"step": step, "presence": presence, "within": within})
    _guard(
        env,
        lambda: run_expect(
            env, source, opts.connect_args(), items, never or [], dialect=opts.dialect, assume_tz=opts.assume_tz,
            color=opts.color, utc=opts.utc, quiet=quiet, as_json=json_, junit=junit, record=record, force=force,
        ),
    )
