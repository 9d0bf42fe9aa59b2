//! The `protocol` target: one request line as a client (or anything else) may send it.
//!
//! Checked: `Request::parse` never panics; a parsed request written back with `to_line` is one
//! line that parses to the same request; every reply the daemon could send for it (the error
//! text, or any text in `{"ok":…}`) is exactly one line of JSON that reads back the same;
//! the status format names parse or are refused with a bounded message; TUI channel lines
//! parse or are refused, and a bridged event line goes through the decoder without panicking.

use ocbar::server_url::ServerUrl;
use ocbar::wire::{Format, Style};
use ocbar::wire::{MAX_REQUEST, Reply, Request, TuiLine};

fn one_line_reply(r: &Reply) {
    let line = r.to_line();
    assert!(line.ends_with('\n'), "reply without newline");
    assert_eq!(
        line.matches('\n').count(),
        1,
        "reply of several lines: {line:?}"
    );
    assert!(!line.contains('\r'), "CR in a reply line: {line:?}");
    let back: Reply = serde_json::from_str(line.trim_end()).expect("reply reads back");
    assert_eq!(&back, r);
}

/// The `protocol` fuzz target: the bytes are one line as the server reads it (it stops at
/// the first newline and at [`MAX_REQUEST`] bytes).
pub fn run(data: &[u8]) {
    let line = match data.iter().position(|&b| b == b'\n') {
        Some(i) => &data[..i],
        None => data,
    };
    let line = &line[..line.len().min(MAX_REQUEST)];
    let Ok(text) = std::str::from_utf8(line) else {
        return;
    };
    match Request::parse(text) {
        Ok(req) => {
            let out = req.to_line();
            assert!(out.ends_with('\n'));
            let line = out.strip_suffix('\n').unwrap_or(&out);
            // Known and harmless: one trailing CR is taken as the end of a CRLF line, so an
            // argument that itself ends in CR loses it on the way back.
            if !line.ends_with('\r') {
                let back = Request::parse(line);
                assert_eq!(
                    back.as_ref(),
                    Ok(&req),
                    "request does not round-trip: {out:?}"
                );
            }
            if let Request::Status(s) | Request::Watch(s) = &req {
                // A parsed style is one the daemon can render, written back as it was read.
                assert_eq!(s.to_string().parse::<Style>().as_ref(), Ok(s));
                assert!(Format::ALL.contains(&s.format));
            }
        }
        Err(msg) => {
            assert!(!msg.is_empty(), "empty error message");
            one_line_reply(&Reply::Error(msg));
        }
    }
    one_line_reply(&Reply::Ok(text.to_owned()));

    match TuiLine::parse(text) {
        Ok(TuiLine::Event(json)) => {
            let server: ServerUrl = ServerUrl::from("tui://1");
            crate::sse::check_decode(&server, json);
        }
        Ok(TuiLine::Focus { session, .. }) => {
            if let Some(s) = session {
                assert!(!s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control));
            }
        }
        Err(msg) => one_line_reply(&Reply::Error(msg)),
    }
}
