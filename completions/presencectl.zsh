#compdef presencectl
# zsh completion for presencectl.
# Generated from the presencectl app (`presencectl completions zsh`): do not edit.
# Candidates come from presencectl itself (_PRESENCECTL_COMPLETE=complete_zsh), so they
# follow the installed version: commands, options, --format and other
# choices, --type from the dialect registry, --dialect, --kind, @profile names.
#
# Install: copy this file to a directory in $fpath as _presencectl (e.g. ~/.zfunc/_presencectl
#   with "fpath+=~/.zfunc; autoload -Uz compinit; compinit" in ~/.zshrc),
#   or source it after compinit.

_presencectl_completion() {
  eval "$(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _PRESENCECTL_COMPLETE=complete_zsh presencectl 2>/dev/null)"
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # Autoloaded from $fpath: complete now.
  _presencectl_completion "$@"
else
  # Sourced: register for later.
  compdef _presencectl_completion presencectl
fi
