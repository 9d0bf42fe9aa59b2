//! Why a link to a host failed, in ssh's own words plus the fix.

use crate::text::one_line;

/// What ssh (or the far shell) printed on stderr, and its exit code, as one sentence that
/// quotes ssh and says what to do. `ocbar_command` is the far command that was run.
pub fn explain(host: &str, ocbar_command: &str, stderr: &str, code: Option<i32>) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    let quoted = |needle: &str| {
        let l = lines
            .iter()
            .find(|l| l.contains(needle))
            .or(lines.last())
            .copied()
            .unwrap_or("");
        one_line(l, 200)
    };
    let host = one_line(host, 100);
    if has("Could not resolve hostname") || has("Name or service not known") {
        format!(
            "ssh cannot find the host ('{}'): check the name, or its alias in ~/.ssh/config",
            quoted("resolve")
        )
    } else if has("Host key verification failed") || has("IDENTIFICATION HAS CHANGED") {
        format!(
            "ssh does not trust {host}'s host key ('{}'): run 'ssh {host}' once in a terminal to check and accept it",
            quoted("Host key")
        )
    } else if has("Permission denied") || has("Too many authentication failures") {
        format!(
            "{host} refused the login ('{}'): ocbar runs ssh in batch mode, with no password prompt: put your public key in {host}'s ~/.ssh/authorized_keys and load it into ssh-agent (or name it in ~/.ssh/config)",
            quoted("Permission denied")
        )
    } else if has("unrecognized subcommand") {
        format!(
            "the ocbar on {host} has no remote-bridge ('{}'): it is older than this one ({}); install the same version on both machines",
            quoted("unrecognized"),
            env!("CARGO_PKG_VERSION")
        )
    } else if code == Some(127) || has("command not found") || has("No such file or directory") {
        format!(
            "ocbar is not installed on {host}, or not on the PATH of a non-interactive ssh login ('{}'): install ocbar there, or set [remote] ocbar_command to its full path (it runs '{} remote-bridge')",
            quoted("not found"),
            one_line(ocbar_command, 100)
        )
    } else if has("Connection refused")
        || has("timed out")
        || has("No route to host")
        || has("Network is unreachable")
    {
        format!(
            "cannot reach {host} ('{}'): is it up, and its sshd listening on that port?",
            quoted("onnect")
        )
    } else if lines.is_empty() {
        match code {
            Some(c) => format!("ssh to {host} exited with code {c} and said nothing"),
            None => format!("ssh to {host} was killed by a signal"),
        }
    } else {
        let code = code.map_or("a signal".to_string(), |c| format!("code {c}"));
        format!("ssh to {host} exited with {code}: '{}'", quoted(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ssh_failure_is_named_with_its_fix() {
        let e = explain(
            "nohost.invalid",
            "ocbar",
            "ssh: Could not resolve hostname nohost.invalid: Name or service not known\r\n",
            Some(255),
        );
        assert!(
            e.contains("cannot find the host") && e.contains("nohost.invalid"),
            "{e}"
        );
        let e = explain(
            "devbox",
            "ocbar",
            "root@127.0.0.1: Permission denied (publickey).\n",
            Some(255),
        );
        assert!(
            e.contains("refused the login") && e.contains("authorized_keys"),
            "{e}"
        );
        let e = explain(
            "devbox",
            "ocbar",
            "bash: line 1: ocbar: command not found\n",
            Some(127),
        );
        assert!(
            e.contains("not installed on devbox") && e.contains("ocbar_command"),
            "{e}"
        );
        let e = explain(
            "devbox",
            "ocbar",
            "Host key verification failed.\n",
            Some(255),
        );
        assert!(e.contains("ssh devbox"), "{e}");
        let e = explain(
            "devbox",
            "ocbar",
            "ssh: connect to host 127.0.0.1 port 2222: Connection refused\n",
            Some(255),
        );
        assert!(
            e.contains("cannot reach devbox") && e.contains("Connection refused"),
            "{e}"
        );
        let e = explain("devbox", "ocbar", "\x1b[31mweird\x07\n", Some(3));
        assert!(e.contains("code 3") && !e.contains('\x1b'), "{e}");
    }
}
