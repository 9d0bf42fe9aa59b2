#!/usr/bin/env bash
# ocbar's session picker, the popup of both the TPM plugin (ocbar.tmux) and the plain snippet
# (ocbar.conf): the panel of `ocbar list`, numbered; choosing a session runs `ocbar open` (land in
# the OpenCode TUI that shows it: this client is switched to its tmux pane; or a new window runs
# `opencode attach --session` when no TUI can show it). Typed text that matches several sessions
# lists just those, numbered, and asks again.
#
#   OCBAR_BIN      the ocbar program (default: tmux option @ocbar-bin, else ocbar on the PATH,
#                  else ~/.cargo/bin/ocbar)
#   OCBAR_PICKER   auto (fzf when installed, else a prompt), fzf, or prompt (default: tmux
#                  option @ocbar-picker, else auto)
#
# Needs bash and awk only; fzf is used when present. The ids come from `ocbar status --format
# json` (walked by roots.awk); the panel and the ids are read from the same snapshot.
set -u

tmux_option() { # tmux_option NAME: a global tmux option, empty outside tmux or when unset
	[ -n "${TMUX:-}" ] && tmux show-option -gqv "$1" 2>/dev/null
}
ocbar="${OCBAR_BIN:-$(tmux_option @ocbar-bin)}"
if [ -z "$ocbar" ]; then
	if command -v ocbar >/dev/null 2>&1 || ! [ -x "$HOME/.cargo/bin/ocbar" ]; then
		ocbar=ocbar
	else
		ocbar="$HOME/.cargo/bin/ocbar" # where `cargo install` puts it, often not on tmux's PATH
	fi
fi
picker="${OCBAR_PICKER:-$(tmux_option @ocbar-picker)}"
picker="${picker:-auto}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

pause() {
	printf '\n(press Enter)'
	read -r _
}

fail() {
	printf '%s\n' "$*"
	pause
	exit 1
}

# The panel and the JSON of one snapshot: retry while the two JSON reads around it differ.
for _ in 1 2 3 4 5; do
	before="$("$ocbar" status --format json 2>&1)" || fail "$before"
	panel="$("$ocbar" list 2>&1)" || fail "$panel"
	after="$("$ocbar" status --format json 2>/dev/null)"
	[ "$before" = "$after" ] && break
done

mapfile -t rows < <(printf '%s\n' "$before" | awk -f "$here/roots.awk")
mapfile -t lines <<<"$panel"
n=${#rows[@]}
first=$((${#lines[@]} - n)) # the panel starts with one line per server that is not connected
if [ "$n" -eq 0 ] || [ "$first" -lt 0 ]; then
	printf '%s\n' "$panel"
	pause
	exit 0
fi

id_of() { # id_of INDEX (0-based)
	printf '%s' "${rows[$1]%%$'\t'*}"
}

open() {
	local out
	out="$("$ocbar" open "$1" 2>&1)" || fail "$out"
}

if [ "$picker" != prompt ] && { [ "$picker" = fzf ] || command -v fzf >/dev/null 2>&1; }; then
	header="ocbar: choose a session to open"
	for ((k = 0; k < first; k++)); do header+=$'\n'"${lines[k]}"; done
	choice="$(
		for ((k = 0; k < n; k++)); do
			printf '%s\t%s\n' "$(id_of "$k")" "${lines[first + k]}"
		done | fzf --delimiter=$'\t' --with-nth=2.. --no-sort --layout=reverse \
			--prompt='open> ' --header="$header"
	)" || exit 0
	[ -n "$choice" ] && open "${choice%%$'\t'*}"
	exit 0
fi

printf ' ocbar: choose a session to open\n\n'
for ((k = 0; k < first; k++)); do printf '     %s\n' "${lines[k]}"; done
for ((k = 0; k < n; k++)); do printf ' %2d  %s\n' $((k + 1)) "${lines[first + k]}"; done
if [ "$n" -le 9 ]; then
	printf '\n Key 1-%d, or type an id or part of a title (Enter or Esc closes): ' "$n"
	IFS= read -rsn1 key || exit 0
	case "$key" in
	'' | $'\e') exit 0 ;;
	[1-9])
		if [ "$key" -le "$n" ]; then
			open "$(id_of $((key - 1)))"
			exit 0
		fi
		;;
	esac
	IFS= read -rei "$key" answer || exit 0
else
	printf '\n Number, id or part of a title (Enter closes): '
	IFS= read -re answer || exit 0
fi
# Typed text: match it against the listed rows as `ocbar open` does (the exact id, else an id
# prefix, else part of the title, case-insensitive). One match opens it; several are listed,
# numbered, and the prompt asks again; none goes to `ocbar open` (a session not listed here).
matching() { # matching TEXT: the 0-based indexes of the rows TEXT names
	local q="$1" k id title found=()
	for ((k = 0; k < n; k++)); do
		[ "$(id_of "$k")" = "$q" ] && found+=("$k")
	done
	if [ "${#found[@]}" -ne 1 ]; then
		found=()
		for ((k = 0; k < n; k++)); do
			id="$(id_of "$k")"
			[ "${id#"$q"}" != "$id" ] && found+=("$k")
		done
	fi
	if [ "${#found[@]}" -eq 0 ]; then
		for ((k = 0; k < n; k++)); do
			title="${rows[k]##*$'\t'}"
			[[ "${title,,}" == *"${q,,}"* ]] && found+=("$k")
		done
	fi
	[ "${#found[@]}" -eq 0 ] || printf '%s\n' "${found[@]}"
}

while :; do
	[ -z "$answer" ] && exit 0
	if [[ "$answer" =~ ^[0-9]+$ ]] && [ "$answer" -ge 1 ] && [ "$answer" -le "$n" ]; then
		open "$(id_of $((answer - 1)))"
		exit 0
	fi
	mapfile -t hits < <(matching "$answer")
	if [ "${#hits[@]}" -eq 1 ]; then
		open "$(id_of "${hits[0]}")"
		exit 0
	fi
	if [ "${#hits[@]}" -gt 1 ]; then
		printf "\n '%s' matches %d sessions:\n" "$answer" "${#hits[@]}"
		for k in "${hits[@]}"; do printf ' %2d  %s\n' $((k + 1)) "${lines[first + k]}"; done
		printf '\n Number, or more of the id or title (Enter closes): '
	else
		if out="$("$ocbar" open "$answer" 2>&1)"; then
			exit 0
		fi
		printf '\n %s\n\n Number, id or part of a title (Enter closes): ' "$out"
	fi
	IFS= read -re answer || exit 0
done
