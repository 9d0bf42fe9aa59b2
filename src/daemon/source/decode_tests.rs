//! Decoder tests: frames as OpenCode documents them and as a real 1.18.33 server sent them, then
//! hostile input.

use super::*;

fn server() -> ServerUrl {
    ServerUrl::from("http://127.0.0.1:4096")
}

fn ev(data: &str) -> (Event, Option<&str>) {
    match decode(&server(), data) {
        Decoded::Event(e, d) => (e, d),
        other => panic!("expected an event, got {other:?} for {data}"),
    }
}

fn invalid(data: &str) -> &'static str {
    match decode(&server(), data) {
        Decoded::Invalid(r) => r,
        other => panic!("expected Invalid, got {other:?} for {data}"),
    }
}

// --- frames as OpenCode documents them ------------------------------------------------------------

#[test]
fn server_connected() {
    let (e, d) = ev(
        r#"{"payload":{"id":"evt_209f237e5001qxP58L3tnrS1vE","type":"server.connected","properties":{}}}"#,
    );
    assert_eq!(e, Event::Connected { server: server() });
    assert_eq!(d, None);
}

#[test]
fn heartbeat() {
    assert_eq!(
        decode(
            &server(),
            r#"{"payload":{"id":"evt_20a22cad3001xpclWmfCC02vNk","type":"server.heartbeat","properties":{}}}"#
        ),
        Decoded::Heartbeat
    );
}

#[test]
fn status_busy() {
    let (e, d) = ev(
        r#"{"directory":"/home/me/projA","project":"10f0bc4bc326734f69a68e6501290774779f5585","payload":{"id":"evt_209f95f04001Os33SHxcJjPozj","type":"session.status","properties":{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","status":{"type":"busy"}}}}"#,
    );
    assert_eq!(
        e,
        Event::Status {
            server: server(),
            directory: "/home/me/projA".into(),
            session: "ses_df6076131ffekjD8S9Tf4qjKah".into(),
            status: Status::Busy,
        }
    );
    assert_eq!(d, Some("/home/me/projA"));
}

#[test]
fn status_retry() {
    let (e, _) = ev(
        r#"{"directory":"/home/me/projB","project":"global","payload":{"id":"evt_209f9a6f0001PMFaaqSQiK0oXQ","type":"session.status","properties":{"sessionID":"ses_df607607bffeqtDdW21pQ64nnX","status":{"type":"retry","attempt":1,"message":"rate limited (fake)","next":1795463687871}}}}"#,
    );
    assert_eq!(
        e,
        Event::Status {
            server: server(),
            directory: "/home/me/projB".into(),
            session: "ses_df607607bffeqtDdW21pQ64nnX".into(),
            status: Status::Retry {
                attempt: 1,
                message: "rate limited (fake)".into(),
                next_ms: 1795463687871,
            },
        }
    );
}

#[test]
fn status_retry_with_action_and_float_next() {
    let (e, _) = ev(
        r#"{"directory":"/p","payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"retry","attempt":2,"message":"Free limit","next":1795463687871.75,"action":{"reason":"free_tier_limit","provider":"opencode","title":"Free limit reached","message":"Subscribe","label":"subscribe","link":"https://opencode.ai/go"}}}}}"#,
    );
    let Event::Status { status, .. } = e else {
        panic!()
    };
    assert_eq!(
        status,
        Status::Retry {
            attempt: 2,
            message: "Free limit".into(),
            next_ms: 1795463687871
        }
    );
}

#[test]
fn status_idle() {
    let (e, _) = ev(
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"id":"evt_209f96ef70014FxEB6ySdsav1W","type":"session.status","properties":{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","status":{"type":"idle"}}}}"#,
    );
    assert!(matches!(
        e,
        Event::Status {
            status: Status::Idle,
            ..
        }
    ));
}

#[test]
fn session_idle_is_noise() {
    assert_eq!(
        decode(
            &server(),
            r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"id":"evt_209f96ef7002WK19ibZ1Qq6Kdn","type":"session.idle","properties":{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah"}}}"#
        ),
        Decoded::Noise
    );
}

#[test]
fn unknown_status_type_is_invalid_not_a_state() {
    assert_eq!(
        invalid(
            r#"{"directory":"/p","payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"image_processing","model":"x"}}}}"#
        ),
        "session.status: unknown status type"
    );
}

#[test]
fn session_error_abort() {
    let (e, d) = ev(
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"id":"evt_209f96ef6001cF9vcr4bygGzYs","type":"session.error","properties":{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","error":{"name":"MessageAbortedError","data":{"message":"Aborted"}}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionError {
            server: server(),
            session: Some("ses_df6076131ffekjD8S9Tf4qjKah".into()),
            error: ErrorInfo {
                name: "MessageAbortedError".into(),
                message: "Aborted".into()
            },
        }
    );
    assert_eq!(d, Some("/home/me/projA"));
}

#[test]
fn session_error_api_error() {
    let (e, _) = ev(
        r#"{"directory":"/home/me/projB","project":"global","payload":{"id":"evt_209f9f255001p4U4kgEpLM0rvX","type":"session.error","properties":{"sessionID":"ses_df607607bffeqtDdW21pQ64nnX","error":{"name":"APIError","data":{"message":"bad request (fake fatal)","statusCode":400,"isRetryable":false,"responseHeaders":{"content-length":"65","content-type":"application/json"},"responseBody":"{\"error\": {\"message\": \"bad request (fake fatal)\", \"type\": \"err\"}}","metadata":{"url":"http://127.0.0.1:PORT/v1/chat/completions"}}}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionError {
            server: server(),
            session: Some("ses_df607607bffeqtDdW21pQ64nnX".into()),
            error: ErrorInfo {
                name: "APIError".into(),
                message: "bad request (fake fatal)".into()
            },
        }
    );
}

#[test]
fn session_error_without_session_or_data() {
    let (e, _) = ev(
        r#"{"directory":"/p","payload":{"type":"session.error","properties":{"error":{"name":"MessageOutputLengthError","data":{}}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionError {
            server: server(),
            session: None,
            error: ErrorInfo {
                name: "MessageOutputLengthError".into(),
                message: String::new()
            },
        }
    );
    let (e, _) = ev(r#"{"directory":"/p","payload":{"type":"session.error","properties":{}}}"#);
    assert!(
        matches!(e, Event::SessionError { session: None, error, .. } if error.name == "UnknownError")
    );
}

#[test]
fn session_created_real_frame() {
    let (e, d) = ev(
        r#"{"directory":"/tmp/srcwork/projA","project":"global","payload":{"id":"evt_20a22a5f0001sg342hVcaMS7J9","type":"session.created","properties":{"sessionID":"ses_df5dd5a18ffeiHZOtjw53Dz7On","info":{"id":"ses_df5dd5a18ffeiHZOtjw53Dz7On","slug":"brave-tiger","version":"1.18.33","projectID":"global","directory":"/tmp/srcwork/projA","path":"","title":"alpha","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"time":{"created":1795466372584,"updated":1795466372584}}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionInfo {
            server: server(),
            info: SessionInfo {
                id: "ses_df5dd5a18ffeiHZOtjw53Dz7On".into(),
                directory: "/tmp/srcwork/projA".into(),
                title: "alpha".into(),
                parent_id: None,
                agent: None,
                model: None,
                updated_ms: 1795466372584,
            },
        }
    );
    assert_eq!(d, Some("/tmp/srcwork/projA"));
}

#[test]
fn session_updated_with_agent_model_parent() {
    let (e, _) = ev(
        r#"{"directory":"/home/me/projB","project":"global","payload":{"id":"evt_1","type":"session.updated","properties":{"sessionID":"ses_child","info":{"id":"ses_child","slug":"brave-forest","projectID":"global","directory":"/home/me/projB","path":"tmp/research/projB","parentID":"ses_parent","summary":{"additions":0,"deletions":0,"files":0},"cost":0,"tokens":{"input":70,"output":35,"reasoning":0,"cache":{"read":0,"write":0}},"title":"child job (@general subagent)","agent":"general","model":{"id":"fake-model","providerID":"fake","variant":"default"},"version":"1.18.33","time":{"created":1795463618436,"updated":1795464250375}}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionInfo {
            server: server(),
            info: SessionInfo {
                id: "ses_child".into(),
                directory: "/home/me/projB".into(),
                title: "child job (@general subagent)".into(),
                parent_id: Some("ses_parent".into()),
                agent: Some("general".into()),
                model: Some("fake/fake-model".into()),
                updated_ms: 1795464250375,
            },
        }
    );
}

#[test]
fn session_deleted() {
    let (e, _) = ev(
        r#"{"directory":"/p","payload":{"type":"session.deleted","properties":{"sessionID":"ses_x","info":{"id":"ses_x","directory":"/p","title":"t","time":{"created":1,"updated":2}}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionDeleted {
            server: server(),
            session: "ses_x".into()
        }
    );
    // Older shape: only `info`.
    let (e, _) = ev(
        r#"{"directory":"/p","payload":{"type":"session.deleted","properties":{"info":{"id":"ses_y"}}}}"#,
    );
    assert_eq!(
        e,
        Event::SessionDeleted {
            server: server(),
            session: "ses_y".into()
        }
    );
}

#[test]
fn message_updated_user() {
    let (e, _) = ev(
        r#"{"directory":"/tmp/srcwork/projA","project":"global","payload":{"id":"evt_20a22a93f001HPGPqInGKXr05X","type":"message.updated","properties":{"sessionID":"ses_df5dd5a18ffeiHZOtjw53Dz7On","info":{"id":"msg_20a22a914001tQx29C0iPCbJ3R","role":"user","sessionID":"ses_df5dd5a18ffeiHZOtjw53Dz7On","time":{"created":1795466373396},"agent":"build","model":{"providerID":"fake","modelID":"fake-model"}}}}}"#,
    );
    assert_eq!(
        e,
        Event::Message {
            server: server(),
            session: "ses_df5dd5a18ffeiHZOtjw53Dz7On".into(),
            info: MessageInfo {
                id: "msg_20a22a914001tQx29C0iPCbJ3R".into(),
                role: Role::User,
                agent: Some("build".into()),
                model: Some("fake/fake-model".into()),
                completed: false,
                error: None,
                created_ms: 1795466373396,
            },
        }
    );
}

#[test]
fn message_updated_assistant_completed() {
    let (e, _) = ev(
        r#"{"directory":"/home/me/projA","payload":{"type":"message.updated","properties":{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","info":{"id":"msg_209f9070d001om9daWdADAf3vG","parentID":"msg_209f8f47f001W5n9LtoZpq9dOk","role":"assistant","mode":"build","agent":"build","path":{"cwd":"/home/me/projA","root":"/home/me/projA"},"cost":0,"tokens":{"total":15,"input":10,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"modelID":"fake-model","providerID":"fake","time":{"created":1795463644941,"completed":1795463652861},"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","finish":"stop"}}}}"#,
    );
    assert_eq!(
        e,
        Event::Message {
            server: server(),
            session: "ses_df6076131ffekjD8S9Tf4qjKah".into(),
            info: MessageInfo {
                id: "msg_209f9070d001om9daWdADAf3vG".into(),
                role: Role::Assistant,
                agent: Some("build".into()),
                model: Some("fake/fake-model".into()),
                completed: true,
                error: None,
                created_ms: 1795463644941,
            },
        }
    );
}

#[test]
fn message_updated_assistant_aborted() {
    let (e, _) = ev(
        r#"{"directory":"/p","payload":{"type":"message.updated","properties":{"info":{"id":"msg_1","sessionID":"ses_1","role":"assistant","mode":"plan","time":{"created":10,"completed":20},"error":{"name":"MessageAbortedError","data":{"message":"Aborted"}},"modelID":"m","providerID":"p"}}}}"#,
    );
    let Event::Message { session, info, .. } = e else {
        panic!()
    };
    assert_eq!(&*session, "ses_1");
    assert_eq!(info.agent.as_deref(), Some("plan"));
    assert!(info.completed);
    assert_eq!(
        info.error,
        Some(ErrorInfo {
            name: "MessageAbortedError".into(),
            message: "Aborted".into()
        })
    );
}

#[test]
fn permission_asked_and_replied() {
    let (e, d) = ev(
        r#"{"directory":"/home/me/projB","project":"global","payload":{"id":"evt_20a0217ab00156tXc8f6sSwoZ9","type":"permission.asked","properties":{"id":"per_20a0217aa0010PRMGczqphfaEh","sessionID":"ses_df607607bffeqtDdW21pQ64nnX","permission":"bash","patterns":["echo hi"],"metadata":{"command":"echo hi"},"always":["echo *"],"tool":{"messageID":"msg_20a021650001YyQF8O2Twh3vFF","callID":"call_bash1"}}}}"#,
    );
    assert_eq!(
        e,
        Event::InputAsked {
            server: server(),
            input: PendingInput {
                session: "ses_df607607bffeqtDdW21pQ64nnX".into(),
                request: "per_20a0217aa0010PRMGczqphfaEh".into(),
                kind: InputKind::Permission,
            },
        }
    );
    assert_eq!(d, Some("/home/me/projB"));
    let (e, _) = ev(
        r#"{"directory":"/home/me/projB","project":"global","payload":{"id":"evt_20a023b500012IMBDugCvlmD4s","type":"permission.replied","properties":{"sessionID":"ses_df607607bffeqtDdW21pQ64nnX","requestID":"per_20a0217aa0010PRMGczqphfaEh","reply":"once"}}}"#,
    );
    assert_eq!(
        e,
        Event::InputAnswered {
            server: server(),
            session: "ses_df607607bffeqtDdW21pQ64nnX".into(),
            request: "per_20a0217aa0010PRMGczqphfaEh".into(),
        }
    );
}

#[test]
fn question_asked_and_rejected() {
    let (e, _) = ev(
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"id":"evt_20a025e8c002FwyCpDHG3XQ7Vg","type":"question.asked","properties":{"id":"que_20a025e8c001oh1xgO7AqKVJAo","sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","questions":[{"question":"Pick one?","header":"Pick","options":[{"label":"A","description":"a"},{"label":"B","description":"b"}]}],"tool":{"messageID":"msg_20a025d6d00189s1idrQHPHt99","callID":"call_q1"}}}}"#,
    );
    assert_eq!(
        e,
        Event::InputAsked {
            server: server(),
            input: PendingInput {
                session: "ses_df6076131ffekjD8S9Tf4qjKah".into(),
                request: "que_20a025e8c001oh1xgO7AqKVJAo".into(),
                kind: InputKind::Question,
            },
        }
    );
    for kind in ["question.rejected", "question.replied"] {
        let (e, _) = ev(&format!(
            r#"{{"directory":"/home/me/projA","payload":{{"id":"evt_x","type":"{kind}","properties":{{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","requestID":"que_20a025e8c001oh1xgO7AqKVJAo"}}}}}}"#
        ));
        assert_eq!(
            e,
            Event::InputAnswered {
                server: server(),
                session: "ses_df6076131ffekjD8S9Tf4qjKah".into(),
                request: "que_20a025e8c001oh1xgO7AqKVJAo".into(),
            }
        );
    }
}

#[test]
fn instance_and_global_disposed() {
    assert_eq!(
        decode(
            &server(),
            r#"{"directory":"/home/me/projB","project":"global","payload":{"type":"server.instance.disposed","properties":{"directory":"/home/me/projB"},"id":"evt_209fdab39001GHnA6W2yftOa52"}}"#
        ),
        Decoded::InstanceDisposed("/home/me/projB")
    );
    assert_eq!(
        decode(
            &server(),
            r#"{"directory":"global","payload":{"type":"global.disposed","properties":{},"id":"evt_209fdc4a3002MB9wzoysq753te"}}"#
        ),
        Decoded::GlobalDisposed
    );
}

#[test]
fn noise_types() {
    let frames = [
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"type":"sync","syncEvent":{"id":"evt_209f8f491001jj2SOB6dSnlCSq","type":"session.updated.1","seq":1,"aggregateID":"ses_df6076131ffekjD8S9Tf4qjKah","data":{"sessionID":"ses_x","info":{}}},"id":"evt_209f8f491001jj2SOB6dSnlCSq"}}"#,
        r#"{"directory":"/p","payload":{"id":"e","type":"message.part.delta","properties":{"sessionID":"ses_1","messageID":"msg_1","partID":"prt_1","field":"text","delta":"Hello"}}}"#,
        r#"{"directory":"/p","payload":{"id":"e","type":"message.part.updated","properties":{"part":{"type":"text","text":"x"}}}}"#,
        r#"{"directory":"/p","payload":{"id":"e","type":"session.diff","properties":{"sessionID":"ses_1","diff":[]}}}"#,
        r#"{"directory":"/p","payload":{"id":"e","type":"plugin.added","properties":{"name":"x"}}}"#,
        r#"{"directory":"/p","payload":{"id":"e","type":"catalog.updated","properties":{}}}"#,
        r#"{"directory":"global","project":"10f0…","payload":{"type":"project.updated","properties":{"id":"10f0…","worktree":"/home/me/projA","vcs":"git","sandboxes":[],"time":{"created":1795463617465,"updated":1795463617465}},"id":"evt_…"}}"#,
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"id":"evt_209fa6f3c0019hDF3sv5XotK2M","type":"tui.toast.show","properties":{"title":"T","message":"hello","variant":"info","duration":5000}}}"#,
        // Noise needs no properties at all.
        r#"{"payload":{"type":"message.part.delta"}}"#,
    ];
    for f in frames {
        assert_eq!(decode(&server(), f), Decoded::Noise, "{f}");
    }
}

#[test]
fn unknown_types_are_named_not_dropped_as_noise() {
    // Fast path (OpenCode's layout) and full parse (another layout) alike.
    assert_eq!(
        decode(
            &server(),
            r#"{"payload":{"type":"some.future.event","properties":{"whatever":[1,2,{"a":null}]}}}"#
        ),
        Decoded::Unknown("some.future.event")
    );
    assert_eq!(
        decode(
            &server(),
            r#"{"payload":{"properties":{},"type":"session.execution.started"}}"#
        ),
        Decoded::Unknown("session.execution.started")
    );
}

#[test]
fn permission_events_of_opencode_1_0() {
    // 1.0.x: `permission.updated` asks, `permission.replied {permissionID, response}` answers.
    let asked = r#"{"directory":"/p","payload":{"type":"permission.updated","properties":{"id":"per_1","type":"bash","pattern":["echo hi"],"sessionID":"ses_1","messageID":"msg_1","callID":"call_1","title":"echo hi","metadata":{},"time":{"created":1}}}}"#;
    let (e, _) = ev(asked);
    assert_eq!(
        e,
        Event::InputAsked {
            server: server(),
            input: PendingInput {
                session: "ses_1".into(),
                request: "per_1".into(),
                kind: InputKind::Permission
            }
        }
    );
    let replied = r#"{"directory":"/p","payload":{"type":"permission.replied","properties":{"sessionID":"ses_1","permissionID":"per_1","response":"once"}}}"#;
    let (e, _) = ev(replied);
    assert_eq!(
        e,
        Event::InputAnswered {
            server: server(),
            session: "ses_1".into(),
            request: "per_1".into()
        }
    );
}

#[test]
fn type_after_properties_still_decodes() {
    let (e, _) = ev(
        r#"{"payload":{"properties":{"sessionID":"ses_1","status":{"type":"busy"}},"id":"e","type":"session.status"},"directory":"/p"}"#,
    );
    assert!(matches!(
        e,
        Event::Status {
            status: Status::Busy,
            ..
        }
    ));
}

#[test]
fn escaped_strings_are_decoded() {
    let (e, d) = ev(
        r#"{"directory":"/p/with \"quote\"","payload":{"type":"session.updated","properties":{"info":{"id":"ses_1","directory":"/p/with \"quote\"","title":"caf\u00e9 \"x\"\n","time":{"updated":5}}}}}"#,
    );
    let Event::SessionInfo { info, .. } = e else {
        panic!()
    };
    assert_eq!(&*info.title, "café \"x\"\n");
    assert_eq!(&*info.directory, "/p/with \"quote\"");
    // An escaped directory is not a borrowable hint; the event still decodes.
    assert_eq!(d, None);
}

// --- hostile input ---------------------------------------------------------------------------

#[test]
fn hostile_frames_are_invalid_never_panic() {
    let cases = [
        "",
        " ",
        "null",
        "[]",
        "42",
        "\"payload\"",
        "{",
        "{}",
        r#"{"payload":null}"#,
        r#"{"payload":{}}"#,
        r#"{"payload":{"type":null}}"#,
        r#"{"payload":{"type":42}}"#,
        r#"{"payload":"session.status"}"#,
        r#"{"payload":{"type":"session.status"}}"#,
        r#"{"payload":{"type":"session.status","properties":null}}"#,
        r#"{"payload":{"type":"session.status","properties":{}}}"#,
        r#"{"payload":{"type":"session.status","properties":{"sessionID":"ses_1"}}}"#,
        r#"{"payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":"busy"}}}"#,
        r#"{"payload":{"type":"session.status","properties":{"sessionID":1,"status":{"type":"busy"}}}}"#,
        r#"{"payload":{"type":"session.status","properties":{"sessionID":"","status":{"type":"busy"}}}}"#,
        r#"{"payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"retry","attempt":"one"}}}}"#,
        r#"{"payload":{"type":"session.updated","properties":{"info":{"title":"no id"}}}}"#,
        r#"{"payload":{"type":"session.updated","properties":{"info":{"id":""}}}}"#,
        r#"{"payload":{"type":"session.created","properties":[]}}"#,
        r#"{"payload":{"type":"session.deleted","properties":{}}}"#,
        r#"{"payload":{"type":"message.updated","properties":{"info":{"id":"m","role":"system","sessionID":"s"}}}}"#,
        r#"{"payload":{"type":"message.updated","properties":{"info":{"id":"m","role":"user"}}}}"#,
        r#"{"payload":{"type":"permission.asked","properties":{"sessionID":"ses_1"}}}"#,
        r#"{"payload":{"type":"question.asked","properties":{"id":"","sessionID":"ses_1"}}}"#,
        r#"{"payload":{"type":"permission.replied","properties":{"sessionID":"ses_1"}}}"#,
        r#"{"payload":{"type":"server.instance.disposed","properties":{}}}"#,
        r#"{"payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}} trailing"#,
        "{\"payload\":{\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_\u{0}\",\"status\":{\"type\":\"busy\"}}}}",
        "\u{feff}{}",
    ];
    for c in cases {
        assert!(
            matches!(decode(&server(), c), Decoded::Invalid(_)),
            "should be invalid: {c:?} -> {:?}",
            decode(&server(), c)
        );
    }
}

#[test]
fn deeply_nested_garbage_does_not_overflow_the_stack() {
    let deep = format!(
        r#"{{"payload":{{"type":"session.status","properties":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(decode(&server(), &deep), Decoded::Invalid(_)));
    let deep_noise = format!(
        r#"{{"payload":{{"type":"message.part.delta","properties":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // serde_json's recursion limit rejects it; either way no crash.
    let _ = decode(&server(), &deep_noise);
}

#[test]
fn huge_frame_rejected_before_parsing() {
    let big = "x".repeat(MAX_FRAME_BYTES + 1);
    assert_eq!(invalid(&big), "frame too large");
}

#[test]
fn numbers_out_of_range_saturate() {
    let (e, _) = ev(
        r#"{"directory":"/p","payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"retry","attempt":-3,"message":"m","next":1e300}}}}"#,
    );
    let Event::Status { status, .. } = e else {
        panic!()
    };
    assert_eq!(
        status,
        Status::Retry {
            attempt: 0,
            message: "m".into(),
            next_ms: i64::MAX
        }
    );
}

// --- the head prefilter ------------------------------------------------------------------------

#[test]
fn head_type_reads_opencode_layouts() {
    let cases = [
        (
            r#"{"directory":"/p","project":"10f0…","payload":{"id":"evt_1","type":"message.part.delta","properties":{}}}"#,
            Some("message.part.delta"),
        ),
        (
            r#"{"payload":{"id":"evt_1","type":"server.heartbeat","properties":{}}}"#,
            Some("server.heartbeat"),
        ),
        (
            r#"{"directory":"/p","project":"g","payload":{"type":"sync","syncEvent":{}}}"#,
            Some("sync"),
        ),
        (
            r#"{"directory":"/with \"quotes\" and \\ slash","payload":{"id":"e","type":"plugin.added"}}"#,
            Some("plugin.added"),
        ),
        // Number values are skipped like strings (OpenCode 2's `created` precedes `type`).
        (r#"{"n":1,"payload":{"type":"sync"}}"#, Some("sync")),
        (r#"{"n":-1.5e3,"payload":{"type":"sync"}}"#, Some("sync")),
        // Anything else falls back to the full parse.
        (r#"{ "payload":{"type":"sync"}}"#, None),
        (r#"{"payload": {"type":"sync"}}"#, None),
        (r#"{"payload":{"properties":{},"type":"sync"}}"#, None),
        (r#"{"n":{},"payload":{"type":"sync"}}"#, None),
        (r#"{"n":[1],"payload":{"type":"sync"}}"#, None),
        (r#"{"payload":{"type":"sy\nc"}}"#, None),
        (r#"{"pay\"load":{"type":"sync"}}"#, None),
        (r#"{"payload":{"type":"sync"#, None),
        (r#"{"directory":"unterminated"#, None),
        (r#"[{"payload":{"type":"sync"}}]"#, None),
        ("", None),
    ];
    for (frame, want) in cases {
        assert_eq!(head_type(frame.as_bytes()), want, "{frame}");
    }
}

#[test]
fn escaped_lookalikes_in_the_envelope_do_not_fool_the_prefilter() {
    let (e, _) = ev(
        r#"{"directory":"x\",\"payload\":{\"type\":\"message.part.delta\"","payload":{"id":"e","type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}}"#,
    );
    assert!(matches!(
        e,
        Event::Status {
            status: Status::Busy,
            ..
        }
    ));
}

#[test]
fn noise_with_a_broken_tail_is_still_noise() {
    // The head says noise: the rest is never read (documented trade-off).
    assert_eq!(
        decode(
            &server(),
            r#"{"directory":"/p","payload":{"id":"e","type":"message.part.delta","properties":{"#
        ),
        Decoded::Noise
    );
    // An interesting type with a broken tail is invalid.
    assert!(matches!(
        decode(
            &server(),
            r#"{"directory":"/p","payload":{"id":"e","type":"session.status","properties":{"#
        ),
        Decoded::Invalid(_)
    ));
}

#[test]
fn only_frames_read_further_than_their_head_are_checked_for_utf8() {
    // The daemon's path (`decode_frame`, bytes from the framer): a token delta whose text is
    // not UTF-8 is still noise (its text is never read), a wanted frame is invalid.
    let delta =
        b"{\"payload\":{\"type\":\"message.part.delta\",\"properties\":{\"delta\":\"\xFF\"}}}";
    assert_eq!(decode_frame(&server(), delta), Decoded::Noise);
    let status = b"{\"payload\":{\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_\xFF\",\"status\":{\"type\":\"busy\"}}}}";
    assert_eq!(
        decode_frame(&server(), status),
        Decoded::Invalid("frame is not UTF-8")
    );
    // A head the fast path does not take (whitespace) is read whole, so checked.
    let spaced =
        b" {\"payload\":{\"type\":\"message.part.delta\",\"properties\":{\"delta\":\"\xFF\"}}}";
    assert_eq!(
        decode_frame(&server(), spaced),
        Decoded::Invalid("frame is not UTF-8")
    );
    // Valid frames decode the same from bytes and from text.
    let text = r#"{"payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}}"#;
    assert_eq!(
        decode_frame(&server(), text.as_bytes()),
        decode(&server(), text)
    );
}
