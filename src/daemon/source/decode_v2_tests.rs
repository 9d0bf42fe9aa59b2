//! Decoder tests for OpenCode 2's `/api/event`: frames as its schema
//! (`packages/schema/src/session-event.ts`, `event.ts`) defines them, and as a real 1.18.33
//! server sent them on its `/api/event`.

use super::*;
use crate::model::event::MessageInfo;

fn server() -> ServerUrl {
    ServerUrl::from("http://127.0.0.1:49374")
}

fn ev(data: &str) -> (Event, Option<&str>) {
    match decode_v2(&server(), data) {
        Decoded::Event(e, d) => (e, d),
        other => panic!("expected an event, got {other:?} for {data}"),
    }
}

fn frame(kind: &str, data: &str) -> String {
    format!(
        r#"{{"id":"evt_1","created":1796471392347,"type":"{kind}","location":{{"directory":"/p"}},"durable":{{"aggregateID":"ses_a","seq":3,"version":1}},"data":{data}}}"#
    )
}

fn ended(outcome: TurnOutcome) -> Event {
    Event::TurnEnded {
        server: server(),
        session: "ses_a".into(),
        outcome,
    }
}

#[test]
fn server_connected_as_1_18_33_sends_it() {
    let (e, _) =
        ev(r#"{"id":"evt_2460a0375001Od4v45AOoLLhAS","type":"server.connected","data":{}}"#);
    assert_eq!(e, Event::Connected { server: server() });
}

#[test]
fn execution_lifecycle() {
    let f = frame("session.execution.started", r#"{"sessionID":"ses_a"}"#);
    let (e, d) = ev(&f);
    assert_eq!(
        e,
        Event::Status {
            server: server(),
            directory: "/p".into(),
            session: "ses_a".into(),
            status: Status::Busy
        }
    );
    assert_eq!(d, Some("/p"));
    let (e, _) = ev(&frame(
        "session.execution.succeeded",
        r#"{"sessionID":"ses_a"}"#,
    ));
    assert_eq!(e, ended(TurnOutcome::Finished));
    let (e, _) = ev(&frame(
        "session.execution.failed",
        r#"{"sessionID":"ses_a","error":{"type":"ProviderError","message":"quota exceeded","status":429}}"#,
    ));
    assert_eq!(
        e,
        ended(TurnOutcome::Failed(ErrorInfo {
            name: "ProviderError".into(),
            message: "quota exceeded".into()
        }))
    );
    for reason in ["user", "inactivity"] {
        let (e, _) = ev(&frame(
            "session.execution.interrupted",
            &format!(r#"{{"sessionID":"ses_a","reason":"{reason}"}}"#),
        ));
        assert_eq!(
            e,
            ended(TurnOutcome::Failed(ErrorInfo::aborted())),
            "{reason}"
        );
    }
}

#[test]
fn a_shutdown_or_superseded_interruption_does_not_end_the_turn() {
    for reason in ["shutdown", "superseded"] {
        let f = frame(
            "session.execution.interrupted",
            &format!(r#"{{"sessionID":"ses_a","reason":"{reason}"}}"#),
        );
        assert_eq!(decode_v2(&server(), &f), Decoded::Noise, "{reason}");
    }
    let f = frame(
        "session.execution.interrupted",
        r#"{"sessionID":"ses_a","reason":"cosmic-ray"}"#,
    );
    assert!(matches!(decode_v2(&server(), &f), Decoded::Invalid(_)));
}

#[test]
fn a_failure_named_like_an_abort_is_still_an_error() {
    let (e, _) = ev(&frame(
        "session.execution.failed",
        r#"{"sessionID":"ses_a","error":{"type":"MessageAbortedError","message":"x"}}"#,
    ));
    let Event::TurnEnded {
        outcome: TurnOutcome::Failed(err),
        ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert!(!err.is_abort());
}

#[test]
fn retry_scheduled_gives_attempt_and_next_time() {
    let (e, _) = ev(&frame(
        "session.retry.scheduled",
        r#"{"sessionID":"ses_a","assistantMessageID":"msg_1","attempt":2,"at":1796471399000,"error":{"type":"RateLimited","message":"Too many requests"}}"#,
    ));
    assert_eq!(
        e,
        Event::Status {
            server: server(),
            directory: "/p".into(),
            session: "ses_a".into(),
            status: Status::Retry {
                attempt: 2,
                message: "Too many requests".into(),
                next_ms: 1796471399000
            }
        }
    );
}

#[test]
fn session_created_flat_with_parent_and_the_1_18_shape() {
    let f = frame(
        "session.created",
        r#"{"sessionID":"ses_child","projectID":"p1","location":{"directory":"/p"},"parentID":"ses_a","slug":"brave-eagle","title":"sub-agent","agent":"explore","model":{"id":"m","providerID":"prov"}}"#,
    );
    let (e, d) = ev(&f);
    let Event::SessionInfo { info, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(&*info.id, "ses_child");
    assert_eq!(info.parent_id.as_deref(), Some("ses_a"));
    assert_eq!(&*info.directory, "/p");
    assert_eq!(&*info.title, "sub-agent");
    assert_eq!(info.agent.as_deref(), Some("explore"));
    assert_eq!(info.model.as_deref(), Some("prov/m"));
    assert_eq!(d, Some("/p"));
    // As a real 1.18.33 sent it on /api/event.
    let (e, _) = ev(
        r#"{"id":"evt_2460a07c7002Vsqk1v80Q1H3u3","type":"session.created","durable":{"aggregateID":"ses_db9f5f838ffeFKfYpSw1ojnC0x","seq":0,"version":1},"location":{"directory":"/tmp/v2exp/proj"},"data":{"sessionID":"ses_db9f5f838ffeFKfYpSw1ojnC0x","info":{"id":"ses_db9f5f838ffeFKfYpSw1ojnC0x","slug":"brave-eagle","projectID":"global","directory":"/tmp/v2exp/proj","path":"tmp/v2exp/proj","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-05T11:49:52.199Z","version":"1.18.33","time":{"created":1796471392199,"updated":1796471392199}}}}"#,
    );
    let Event::SessionInfo { info, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!(&*info.id, "ses_db9f5f838ffeFKfYpSw1ojnC0x");
    assert_eq!(&*info.directory, "/tmp/v2exp/proj");
    assert_eq!(info.updated_ms, 1796471392199);
}

#[test]
fn renamed_agent_model_and_deleted() {
    let change = |e: Event| match e {
        Event::SessionChanged { change, .. } => change,
        other => panic!("{other:?}"),
    };
    let (e, _) = ev(&frame(
        "session.renamed",
        r#"{"sessionID":"ses_a","title":"Fix #1"}"#,
    ));
    assert_eq!(change(e), SessionChange::Title("Fix #1".into()));
    let (e, _) = ev(&frame(
        "session.agent.selected",
        r#"{"sessionID":"ses_a","agent":"plan"}"#,
    ));
    assert_eq!(change(e), SessionChange::Agent("plan".into()));
    let (e, _) = ev(&frame(
        "session.model.selected",
        r#"{"sessionID":"ses_a","model":{"id":"m2","providerID":"prov","variant":"high"}}"#,
    ));
    assert_eq!(change(e), SessionChange::Model("prov/m2".into()));
    let (e, _) = ev(&frame("session.deleted", r#"{"sessionID":"ses_a"}"#));
    assert_eq!(
        e,
        Event::SessionDeleted {
            server: server(),
            session: "ses_a".into()
        }
    );
}

#[test]
fn permissions_in_both_shapes_and_forms() {
    let asked = |e: Event| match e {
        Event::InputAsked { input, .. } => input,
        other => panic!("{other:?}"),
    };
    let v2 = asked(
        ev(&frame(
            "permission.asked",
            r#"{"id":"per_1","sessionID":"ses_a","action":"bash","resources":["ls"],"source":{"type":"tool"}}"#,
        ))
        .0,
    );
    let v1 = asked(
        ev(&frame(
            "permission.asked",
            r#"{"id":"per_1","sessionID":"ses_a","permission":"bash","patterns":["ls"],"metadata":{},"always":[]}"#,
        ))
        .0,
    );
    assert_eq!(v1, v2);
    assert_eq!(v2.kind, InputKind::Permission);
    let early = asked(
        ev(&frame(
            "permission.v2.asked",
            r#"{"id":"per_2","sessionID":"ses_a","action":"edit","resources":[]}"#,
        ))
        .0,
    );
    assert_eq!(early.request, "per_2");
    let form = asked(
        ev(&frame(
            "form.created",
            r#"{"form":{"id":"frm_1","sessionID":"ses_a","title":"Pick one","fields":[]}}"#,
        ))
        .0,
    );
    assert_eq!(form.kind, InputKind::Question);
    assert_eq!(form.request, "frm_1");
    for (kind, data, request) in [
        (
            "permission.replied",
            r#"{"sessionID":"ses_a","requestID":"per_1","reply":"once"}"#,
            "per_1",
        ),
        (
            "form.replied",
            r#"{"id":"frm_1","sessionID":"ses_a","answer":{}}"#,
            "frm_1",
        ),
        (
            "form.cancelled",
            r#"{"id":"frm_1","sessionID":"ses_a"}"#,
            "frm_1",
        ),
    ] {
        let (e, _) = ev(&frame(kind, data));
        assert_eq!(
            e,
            Event::InputAnswered {
                server: server(),
                session: "ses_a".into(),
                request: request.into()
            },
            "{kind}"
        );
    }
    // An MCP elicitation belongs to no session.
    let f = frame(
        "form.created",
        r#"{"form":{"id":"frm_2","sessionID":"global","title":"x","fields":[]}}"#,
    );
    assert_eq!(decode_v2(&server(), &f), Decoded::Noise);
}

#[test]
fn transitional_1x_shaped_events() {
    let (e, _) = ev(&frame(
        "session.error",
        r#"{"sessionID":"ses_a","error":{"name":"APIError","data":{"message":"bad key"}}}"#,
    ));
    assert_eq!(
        e,
        Event::SessionError {
            server: server(),
            session: Some("ses_a".into()),
            error: ErrorInfo {
                name: "APIError".into(),
                message: "bad key".into()
            }
        }
    );
    let (e, _) = ev(&frame(
        "message.updated",
        r#"{"sessionID":"ses_a","info":{"id":"msg_1","sessionID":"ses_a","role":"assistant","mode":"build","providerID":"p","modelID":"m","time":{"created":5}}}"#,
    ));
    let Event::Message {
        info: MessageInfo { model, .. },
        ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(model.as_deref(), Some("p/m"));
    let (e, _) = ev(&frame(
        "session.status",
        r#"{"sessionID":"ses_a","status":{"type":"busy"}}"#,
    ));
    assert!(matches!(
        e,
        Event::Status {
            status: Status::Busy,
            ..
        }
    ));
    // Idle is not the end of a turn on OpenCode 2: `session.execution.*` is.
    let f = frame(
        "session.status",
        r#"{"sessionID":"ses_a","status":{"type":"idle"}}"#,
    );
    assert_eq!(decode_v2(&server(), &f), Decoded::Noise);
}

#[test]
fn token_traffic_is_noise_and_new_types_are_named() {
    for kind in [
        "session.text.delta",
        "session.step.started",
        "session.tool.called",
        "session.usage.updated",
        "session.next.step.failed",
        "plugin.added",
        "catalog.updated",
        "session.idle",
    ] {
        assert_eq!(
            decode_v2(&server(), &frame(kind, r#"{"sessionID":"ses_a"}"#)),
            Decoded::Noise,
            "{kind}"
        );
    }
    let f = frame("session.teleported", r#"{"sessionID":"ses_a"}"#);
    assert_eq!(
        decode_v2(&server(), &f),
        Decoded::Unknown("session.teleported")
    );
}

#[test]
fn hostile_frames_are_invalid_never_a_panic() {
    for f in [
        "",
        "{",
        "[]",
        r#"{"type":"session.execution.started"}"#,
        r#"{"type":"session.execution.started","data":{"sessionID":""}}"#,
        r#"{"type":"session.execution.failed","data":{"sessionID":5}}"#,
        r#"{"type":"session.renamed","data":{"sessionID":"ses_a"}}"#,
        r#"{"type":"form.created","data":{"form":{"id":"","sessionID":"ses_a"}}}"#,
        r#"{"type":"session.created","data":{"title":"no id"}}"#,
    ] {
        assert!(
            matches!(decode_v2(&server(), f), Decoded::Invalid(_)),
            "{f}: {:?}",
            decode_v2(&server(), f)
        );
    }
}

#[test]
fn only_frames_read_further_than_their_head_are_checked_for_utf8() {
    let delta = b"{\"id\":\"evt_1\",\"type\":\"session.text.delta\",\"data\":{\"sessionID\":\"ses_1\",\"delta\":\"\xFF\"}}";
    assert_eq!(decode_v2_frame(&server(), delta), Decoded::Noise);
    let started = b"{\"id\":\"evt_1\",\"type\":\"session.execution.started\",\"data\":{\"sessionID\":\"ses_\xFF\"}}";
    assert_eq!(
        decode_v2_frame(&server(), started),
        Decoded::Invalid("frame is not UTF-8")
    );
}
