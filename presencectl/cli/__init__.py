"""The command line: Typer only (the app, its commands, option groups, help, completion)."""
