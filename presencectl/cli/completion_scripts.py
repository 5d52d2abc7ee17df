"""The shell completion scripts, rendered from the app: ``presencectl completions bash|zsh|fish``.

The scripts hold no list of commands or options: on every <Tab> they run
``presencectl`` with ``_PRESENCECTL_COMPLETE=complete_<shell>`` and the words
typed so far, and the program answers (:mod:`presencectl.cli.completion`). What
is rendered from the app is the program name, the environment variable and
the function names. ``completions/generate.py`` writes the same text into
the repository's ``completions/`` (a test fails while those are stale).
"""

from __future__ import annotations

import re

__all__ = ["SHELLS", "program", "render", "INSTALL_LINES"]

SHELLS = ("bash", "zsh", "fish")

#: One line to install each, for the README and ``presencectl completions --help``.
INSTALL_LINES = {
    "bash": "d=~/.local/share/bash-completion/completions; mkdir -p $d && presencectl completions bash > $d/presencectl",
    "zsh": "mkdir -p ~/.zfunc && presencectl completions zsh > ~/.zfunc/_presencectl  # ~/.zshrc: fpath+=~/.zfunc before compinit",
    "fish": "mkdir -p ~/.config/fish/completions && presencectl completions fish > ~/.config/fish/completions/presencectl.fish",
}

HEADER = """\
{comment} {shell} completion for {prog}.
{comment} Generated from the {prog} app (`{prog} completions {shell}`): do not edit.
{comment} Candidates come from {prog} itself ({var}=complete_{shell}), so they
{comment} follow the installed version: commands, options, --format and other
{comment} choices, --type from the dialect registry, --dialect, --kind, @profile names.
{comment}
{install}
"""

INSTALL = {
    "bash": """\
# Install: source this file from ~/.bashrc, or copy it to
#   ~/.local/share/bash-completion/completions/{prog}""",
    "zsh": """\
# Install: copy this file to a directory in $fpath as _{prog} (e.g. ~/.zfunc/_{prog}
#   with "fpath+=~/.zfunc; autoload -Uz compinit; compinit" in ~/.zshrc),
#   or source it after compinit.""",
    "fish": """\
# Install: copy this file to ~/.config/fish/completions/{prog}.fish""",
}

BASH = r"""
{func}() {{
    local IFS=$'\n' line=${{COMP_LINE:0:COMP_POINT}} wordbreaks=${{COMP_WORDBREAKS:-$' \t\n'}}
    # bash splits words at COMP_WORDBREAKS, which holds @ = and :. Join the
    # pieces no blank separates, so that {prog} sees "@span-prod" and
    # "--type=fir" whole.
    local -a words=("${{COMP_WORDS[0]}}") found
    local cword=0 i word rest=${{line#*"${{COMP_WORDS[0]}}"}}
    for ((i = 1; i <= COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if ((i > 1)) && [[ -n $word && $rest == "$word"* ]]; then
            words[cword]+=$word
        else
            words[++cword]=$word
        fi
        rest=${{rest#*"$word"}}
    done
    # Readline replaces only the text after the last word break ("fir" of
    # "--type=fir"), but keeps an "@" before it ("@sp"): drop the rest of the
    # word from the candidates.
    local cur=${{line##*[$wordbreaks]}}
    [[ ${{line:${{#line}}-${{#cur}}-1:1}} == @ ]] && cur=@$cur
    local prefix=${{words[cword]%"$cur"}}
    mapfile -t found < <(env COMP_WORDS="${{words[*]}}" COMP_CWORD="$cword" \
        {var}=complete_bash "$1" 2>/dev/null)
    COMPREPLY=()
    for word in "${{found[@]}}"; do
        [[ -n $word ]] && COMPREPLY+=("${{word#"$prefix"}}")
    done
    return 0
}}

complete -o default -F {func} {prog}
"""

ZSH = r"""
{func}() {{
  eval "$(env _TYPER_COMPLETE_ARGS="${{words[1,$CURRENT]}}" {var}=complete_zsh {prog} 2>/dev/null)"
}}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # Autoloaded from $fpath: complete now.
  {func} "$@"
else
  # Sourced: register for later.
  compdef {func} {prog}
fi
"""

FISH = """
complete --command {prog} --no-files \\
    --arguments "(env {var}=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) {prog})" \\
    --condition "env {var}=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) {prog}"
"""

BODIES = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def program() -> tuple[str, str, str]:
    """(program name, completion variable, shell function name) from the app."""
    from presencectl.cli.app import app

    prog = app.info.name or "presencectl"
    # The variable Typer/Click read: _PRESENCECTL_COMPLETE for "presencectl".
    var = f"_{prog}_COMPLETE".replace("-", "_").upper()
    func = "_" + re.sub(r"[^a-zA-Z0-9_]", "", prog.replace("-", "_")) + "_completion"
    return prog, var, func


def render() -> dict[str, str]:
    """Each shell's script, by shell name."""
    prog, var, func = program()
    scripts = {}
    for shell, body in BODIES.items():
        install = INSTALL[shell].format(prog=prog)
        head = HEADER.format(comment="#", shell=shell, prog=prog, var=var, install=install)
        if shell == "zsh":
            head = f"#compdef {prog}\n" + head
        scripts[shell] = head + body.format(prog=prog, var=var, func=func)
    return scripts


