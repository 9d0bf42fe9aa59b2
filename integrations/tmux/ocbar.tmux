#!/usr/bin/env bash
# ocbar — tmux plugin (TPM): OpenCode session status in the tmux status line.
#
#   set -g status-right '#{ocbar} %H:%M'         # put #{ocbar} where the segment goes
#   run-shell ~/src/ocbar/integrations/tmux/ocbar.tmux   # from your clone of ocbar (TPM runs
#                                                # plugins the same way; ocbar has no published
#                                                # repository address for `@plugin` yet)
#
# Options (all optional, set before TPM runs):
#   @ocbar-mode       push (default): the daemon keeps the option @ocbar set and tmux redraws at
#                     once on every change; #{ocbar} becomes #{@ocbar}.
#                     poll: #{ocbar} becomes #(ocbar status --format tmux), refreshed every
#                     status-interval seconds.
#   @ocbar-key        key (after the prefix) for the session picker popup; default O; "" = none
#   @ocbar-autostart  on (default): start `ocbar daemon` in the background if none answers
#   @ocbar-log        the started daemon's log file; default $XDG_STATE_HOME/ocbar/daemon.log
#   @ocbar-bin        the ocbar program; default: `ocbar` on tmux's PATH, else ~/.cargo/bin/ocbar
#   @ocbar-picker     auto (default: fzf when installed, else a numbered prompt), fzf, prompt
set -u

CURRENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

option() { # option NAME DEFAULT: a global tmux option, or DEFAULT when unset
	local v
	v="$(tmux show-option -gqv "$1")"
	if [ -z "$v" ] && ! tmux show-option -gq "$1" | grep -q .; then v="$2"; fi
	printf '%s' "$v"
}

# A tmux command-line argument ending in ';' is a command separator: escape the last one.
tmux_arg() {
	case "$1" in
	*';') printf '%s\\;' "${1%;}" ;;
	*) printf '%s' "$1" ;;
	esac
}

# A word for sh -c, in single quotes.
sh_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

find_ocbar() {
	local bin
	bin="$(option @ocbar-bin '')"
	if [ -n "$bin" ]; then
		printf '%s' "$bin"
	elif command -v ocbar >/dev/null 2>&1; then
		command -v ocbar
	elif [ -x "$HOME/.cargo/bin/ocbar" ]; then
		printf '%s' "$HOME/.cargo/bin/ocbar"
	fi
}

# What the segment shows when there is no ocbar to run (as for a daemon that failed to start).
NOT_FOUND='#[fg=white,bg=red] ocbar: program not found (not on the PATH of tmux, not in ~/.cargo/bin): set -g @ocbar-bin /path/to/ocbar #[fg=default,bg=default]'

main() {
	local ocbar mode key autostart log picker replacement
	ocbar="$(find_ocbar)"
	if [ -z "$ocbar" ] || ! command -v "$ocbar" >/dev/null 2>&1; then
		tmux set-option -gq @ocbar "$NOT_FOUND"
		ocbar="${ocbar:-ocbar}"
	fi
	mode="$(option @ocbar-mode push)"
	key="$(option @ocbar-key O)"
	autostart="$(option @ocbar-autostart on)"
	log="$(option @ocbar-log "${XDG_STATE_HOME:-$HOME/.local/state}/ocbar/daemon.log")"
	picker="$(option @ocbar-picker auto)"

	# 1. The daemon. Started from here it inherits $TMUX, so it pushes to this server.
	if [ "$autostart" = on ] && ! "$ocbar" doctor >/dev/null 2>&1; then
		mkdir -p "$(dirname "$log")" 2>/dev/null
		if command -v setsid >/dev/null 2>&1; then
			setsid "$ocbar" daemon </dev/null >>"$log" 2>&1 &
		else
			nohup "$ocbar" daemon </dev/null >>"$log" 2>&1 &
		fi
	fi

	# 2. The #{ocbar} placeholder.
	case "$mode" in
	poll) replacement="#($(sh_quote "$ocbar") status --format tmux)" ;;
	*)
		replacement='#{@ocbar}'
		# Seed the option now (a new tmux server has none until the daemon's next push).
		local line
		if line="$("$ocbar" status --format tmux 2>/dev/null)" && [ -n "$line" ]; then
			tmux set-option -gq @ocbar "$(tmux_arg "$line")"
		fi
		;;
	esac
	local opt value new
	for opt in status-left status-right; do
		value="$(tmux show-option -gqv "$opt")"
		new="${value//\#\{ocbar\}/"$replacement"}"
		if [ "$new" != "$value" ]; then
			tmux set-option -gq "$opt" "$(tmux_arg "$new")"
		fi
	done

	# 3. The picker: a popup with the panel; choosing a session runs `ocbar open`.
	if [ -n "$key" ] && [ "$key" != none ]; then
		local cmd
		# `env`: the popup runs this with default-shell, which may not be a POSIX shell.
		cmd="env OCBAR_BIN=$(sh_quote "$ocbar") OCBAR_PICKER=$(sh_quote "$picker") $(sh_quote "$CURRENT_DIR/scripts/pick.sh")"
		if tmux list-commands display-popup >/dev/null 2>&1; then
			tmux bind-key "$key" display-popup -E -T ' ocbar ' -w 90% -h 50% "$cmd"
		else # tmux < 3.2
			tmux bind-key "$key" new-window -n ocbar "$cmd"
		fi
	fi
}

main
