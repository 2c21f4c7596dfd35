_ming_edit_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _MING_EDIT_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _ming_edit_completion ming-edit
