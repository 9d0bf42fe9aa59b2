#!/usr/bin/env bash
# ocbar's session picker (the tmux plugin's popup): the panel of `ocbar list`, numbered; choosing
# a session runs `ocbar open` (land in the OpenCode TUI that shows it: this client is switched to
# its tmux pane; or a new window runs `opencode attach --session` when no TUI can show it).
#
#   OCBAR_BIN      the ocbar program (default: ocbar)
#   OCBAR_PICKER   auto (fzf when installed, else a prompt), fzf, or prompt
#
# Needs bash and awk only; fzf is used when present. The ids come from `ocbar status --format
# json` (walked by roots.awk); the panel and the ids are read from the same snapshot.
set -u

ocbar="${OCBAR_BIN:-ocbar}"
picker="${OCBAR_PICKER:-auto}"
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
[ -z "$answer" ] && exit 0
if [[ "$answer" =~ ^[0-9]+$ ]] && [ "$answer" -ge 1 ] && [ "$answer" -le "$n" ]; then
	open "$(id_of $((answer - 1)))"
else
	open "$answer"
fi
