# The top-level sessions of an ocbar JSON snapshot, one per line, in snapshot order (the order
# of `ocbar list`):   id <TAB> state <TAB> unvisited <TAB> title
#
#   ocbar status --format json | awk -f roots.awk
#
# A small JSON walker, so the tmux plugin needs no jq or python. It relies on the documented
# field names only, not on their order. Titles come out as one line: every JSON escape of a
# control character becomes a space, so no tab or newline from data reaches the output.

function emit() {
	if (sid != "" && parent == "null")
		printf "%s\t%s\t%s\t%s\n", sid, state, unvisited, title
}

function scalar(key, v) {
	if (!in_session || depth != 3)
		return
	if (key == "id") sid = v
	else if (key == "state") state = v
	else if (key == "unvisited") unvisited = v
	else if (key == "parent_id") parent = v
	else if (key == "title") title = v
}

{ text = text $0 "\n" }

END {
	n = length(text)
	i = 1
	depth = 0
	key = ""
	in_sessions = 0
	in_session = 0
	while (i <= n) {
		c = substr(text, i, 1)
		if (c == "\"") {
			v = ""
			i++
			while (i <= n) {
				c = substr(text, i, 1)
				if (c == "\\") {
					e = substr(text, i + 1, 1)
					if (e == "\"" || e == "\\" || e == "/") {
						v = v e
						i += 2
					} else if (e == "u") {
						v = v " " # serde_json \u-escapes control characters only
						i += 6
					} else {
						v = v " " # \n \t \r \b \f
						i += 2
					}
					continue
				}
				i++
				if (c == "\"")
					break
				v = v c
			}
			j = i
			while (substr(text, j, 1) ~ /[ \t\r\n]/)
				j++
			if (substr(text, j, 1) == ":") {
				key = v
				i = j + 1
			} else {
				scalar(key, v)
			}
			continue
		}
		if (c == "{" || c == "[") {
			depth++
			if (c == "[" && depth == 2 && key == "sessions")
				in_sessions = 1
			if (c == "{" && depth == 3 && in_sessions) {
				in_session = 1
				sid = ""; state = ""; unvisited = ""; parent = ""; title = ""
			}
			i++
			continue
		}
		if (c == "}" || c == "]") {
			if (c == "}" && depth == 3 && in_session) {
				emit()
				in_session = 0
			}
			if (c == "]" && depth == 2)
				in_sessions = 0
			depth--
			i++
			continue
		}
		if (c ~ /[,: \t\r\n]/) {
			i++
			continue
		}
		# a literal: null, true, false or a number
		lit = ""
		while (i <= n && substr(text, i, 1) !~ /[,}\] \t\r\n]/) {
			lit = lit substr(text, i, 1)
			i++
		}
		scalar(key, lit)
	}
}
