# bash completion for presencectl.
# Generated from the presencectl app (`presencectl completions bash`): do not edit.
# Candidates come from presencectl itself (_PRESENCECTL_COMPLETE=complete_bash), so they
# follow the installed version: commands, options, --format and other
# choices, --type from the dialect registry, --dialect, --kind, @profile names.
#
# Install: source this file from ~/.bashrc, or copy it to
#   ~/.local/share/bash-completion/completions/presencectl

_presencectl_completion() {
    local IFS=$'\n' line=${COMP_LINE:0:COMP_POINT} wordbreaks=${COMP_WORDBREAKS:-$' \t\n'}
    # bash splits words at COMP_WORDBREAKS, which holds @ = and :. Join the
    # pieces no blank separates, so that presencectl sees "@span-prod" and
    # "--type=fir" whole.
    local -a words=("${COMP_WORDS[0]}") found
    local cword=0 i word rest=${line#*"${COMP_WORDS[0]}"}
    for ((i = 1; i <= COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if ((i > 1)) && [[ -n $word && $rest == "$word"* ]]; then
            words[cword]+=$word
        else
            words[++cword]=$word
        fi
        rest=${rest#*"$word"}
    done
    # Readline replaces only the text after the last word break ("fir" of
    # "--type=fir"), but keeps an "@" before it ("@sp"): drop the rest of the
    # word from the candidates.
    local cur=${line##*[$wordbreaks]}
    [[ ${line:${#line}-${#cur}-1:1} == @ ]] && cur=@$cur
    local prefix=${words[cword]%"$cur"}
    mapfile -t found < <(env COMP_WORDS="${words[*]}" COMP_CWORD="$cword" \
        _PRESENCECTL_COMPLETE=complete_bash "$1" 2>/dev/null)
    COMPREPLY=()
    for word in "${found[@]}"; do
        [[ -n $word ]] && COMPREPLY+=("${word#"$prefix"}")
    done
    return 0
}

complete -o default -F _presencectl_completion presencectl
