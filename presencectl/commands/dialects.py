"""``presencectl dialects``: what the detector knows."""

from __future__ import annotations

from typing import Annotated

import typer

from presencectl.app import app
from presencectl.console import Environment


@app.command("dialects")
def dialects_cmd(
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per dialect, for scripts.")] = False,
) -> None:
    """List the dialects, their event types, kinds and colours.

    [bold]Examples[/]

      presencectl dialects
      presencectl dialects --json | jq -r '.types[].name'
    """
    from presencectl.core import dialects
    from presencectl.core.render import DIALECT_STYLES, KIND_STYLES

    env = Environment()
    if json_:
        import orjson

        for d in dialects.registry():
            obj = {
                "name": d.name,
                "title": d.title,
                "types": [
                    {"name": n, "kind": str(i.kind), "presence": i.presence, "description": i.description}
                    for n, i in d.types.items()
                ],
            }
            env.stdout.write(orjson.dumps(obj) + b"\n")
        env.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    for d in dialects.registry():
        table = Table(
            title=Text.assemble((d.name, DIALECT_STYLES.get(d.name, ("white", ""))[0] + " bold"), f"  {d.title}"),
            title_justify="left",
            show_edge=False,
            pad_edge=False,
        )
        table.add_column("type")
        table.add_column("kind")
        table.add_column("presence")
        table.add_column("meaning")
        for name, info in d.types.items():
            style = KIND_STYLES.get(str(info.kind), ("white", ""))[0]
            table.add_row(Text(name, style=style), Text(str(info.kind), style=style), info.presence or "", info.description)
        if not d.types:
            table.add_row(Text("(from event/type/category/method)", style="dim"), "guessed", "", "")
        console.print(table)
        console.print()
    legend = Text("kinds: ")
    for kind, (style, _) in KIND_STYLES.items():
        if kind is not None:
            legend.append(kind, style=style)
            legend.append(" ")
    legend.append("unparsed", style="dim")
    console.print(legend)


