# fish completion for presencectl.
# Generated from the presencectl app (`presencectl completions fish`): do not edit.
# Candidates come from presencectl itself (_PRESENCECTL_COMPLETE=complete_fish), so they
# follow the installed version: commands, options, --format and other
# choices, --type from the dialect registry, --dialect, --kind, @profile names.
#
# Install: copy this file to ~/.config/fish/completions/presencectl.fish

complete --command presencectl --no-files \
    --arguments "(env _PRESENCECTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) presencectl)" \
    --condition "env _PRESENCECTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) presencectl"
