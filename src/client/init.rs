//! `ocbar init bash|zsh|fish`: the snippet a shell `eval`s (as `eval "$(starship init bash)"`)
//! to show ocbar's segment in the user's own prompt, without replacing it.
//!
//! - bash: a function at the end of `PROMPT_COMMAND` puts the segment in front of `PS1`
//!   (taking out the one it put there last time, if `PS1` still starts with it);
//! - zsh: a `precmd` hook does the same with `PROMPT`; under `PROMPT_SUBST` it inserts a
//!   reference to the segment's parameter instead of its text, so `$(…)` in a title is
//!   never expanded;
//! - fish: `fish_right_prompt` shows the segment, then calls the right prompt it replaced.
//!
//! The segment comes from `ocbar status --format SHELL` (escaped for that shell, see
//! `render::prompt`), which exits 0 with nothing when the daemon is down. The snippet names
//! this very binary by its absolute path, so a prompt does not depend on `PATH`.

/// The shells `ocbar init` knows.
pub const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// The snippet for `shell`, calling `exe`; `None` for a shell not in [`SHELLS`].
pub fn script(shell: &str, exe: &str) -> Option<String> {
    Some(match shell {
        "bash" => BASH.replace("@OCBAR@", &sh_quote(exe)),
        "zsh" => ZSH.replace("@OCBAR@", &sh_quote(exe)),
        "fish" => FISH.replace("@OCBAR@", &fish_quote(exe)),
        _ => return None,
    })
}

/// `s` as one POSIX shell word: single-quoted, `'` written `'\''`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `s` as one fish word: single-quoted, `\` and `'` backslashed.
fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

const BASH: &str = r#"# ocbar: the state of every OpenCode session, in front of your own prompt.
# In ~/.bashrc, after anything that sets PS1 or PROMPT_COMMAND:  eval "$(ocbar init bash)"
__ocbar_added=${__ocbar_added-}
__ocbar_prompt() {
    local __ocbar_rc=$? __ocbar_segment
    PS1=${PS1#"$__ocbar_added"}
    __ocbar_segment=$(@OCBAR@ status --format bash 2>/dev/null)
    __ocbar_added=${__ocbar_segment:+"$__ocbar_segment "}
    PS1=$__ocbar_added$PS1
    return $__ocbar_rc
}
if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
    [[ " ${PROMPT_COMMAND[*]} " == *" __ocbar_prompt "* ]] || PROMPT_COMMAND+=(__ocbar_prompt)
else
    case "${PROMPT_COMMAND-}" in
        *__ocbar_prompt*) ;;
        *) PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}__ocbar_prompt" ;;
    esac
fi
"#;

const ZSH: &str = r#"# ocbar: the state of every OpenCode session, in front of your own prompt.
# In ~/.zshrc, after anything that sets PROMPT (a theme, a framework):  eval "$(ocbar init zsh)"
typeset -g __ocbar_added="${__ocbar_added-}" __ocbar_segment="${__ocbar_segment-}"
__ocbar_precmd() {
    PROMPT=${PROMPT#"$__ocbar_added"}
    __ocbar_segment=$(@OCBAR@ status --format zsh 2>/dev/null)
    __ocbar_added=''
    if [[ -n $__ocbar_segment ]]; then
        if [[ -o promptsubst ]]; then
            # a parameter's value is not expanded again: $(...) in a title stays text
            __ocbar_added='${__ocbar_segment} '
        else
            __ocbar_added="$__ocbar_segment "
        fi
    fi
    PROMPT=$__ocbar_added$PROMPT
}
autoload -Uz add-zsh-hook
add-zsh-hook precmd __ocbar_precmd
"#;

const FISH: &str = r#"# ocbar: the state of every OpenCode session, in the right prompt (before your own).
# In ~/.config/fish/config.fish, at the end:  ocbar init fish | source
function __ocbar_segment --description 'ocbar: the state of every OpenCode session'
    @OCBAR@ status --format fish 2>/dev/null
end
function __ocbar_return
    return $argv[1]
end
if not functions -q __ocbar_user_right_prompt
    if functions -q fish_right_prompt
        functions -c fish_right_prompt __ocbar_user_right_prompt
        function fish_right_prompt --description 'ocbar, then the right prompt it wraps'
            set -l __ocbar_status $status
            set -l __ocbar_segment (__ocbar_segment)
            test -n "$__ocbar_segment"; and printf '%s ' "$__ocbar_segment"
            __ocbar_return $__ocbar_status
            __ocbar_user_right_prompt
        end
    else
        function __ocbar_user_right_prompt
        end
        function fish_right_prompt --description 'ocbar: the state of every OpenCode session'
            printf '%s' (__ocbar_segment)
        end
    end
end
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shell_calls_this_binary_quoted() {
        let bash = script("bash", "/opt/o'car/ocbar").unwrap();
        assert!(bash.contains("$('/opt/o'\\''car/ocbar' status --format bash 2>/dev/null)"));
        let zsh = script("zsh", "/b/ocbar").unwrap();
        assert!(zsh.contains("$('/b/ocbar' status --format zsh 2>/dev/null)"));
        let fish = script("fish", "/o'c\\ar").unwrap();
        assert!(fish.contains("'/o\\'c\\\\ar' status --format fish"));
        assert!(script("tcsh", "/b/ocbar").is_none());
        for shell in SHELLS {
            assert!(!script(shell, "x").unwrap().contains("@OCBAR@"));
        }
    }
}
