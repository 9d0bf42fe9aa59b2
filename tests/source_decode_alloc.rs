//! Noise must be dropped without allocating: token deltas dominate OpenCode's event stream.
//! A counting global allocator (this test binary only) checks it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ocbar::daemon::source::{Decoded, decode};
use ocbar::server_url::ServerUrl;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarding the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn noise_and_heartbeats_do_not_allocate() {
    let server: ServerUrl = ServerUrl::from("http://127.0.0.1:4096");
    let frames = [
        r#"{"directory":"/home/me/projA","project":"10f0bc4bc326734f69a68e6501290774779f5585","payload":{"id":"evt_1","type":"message.part.delta","properties":{"sessionID":"ses_df6076131ffekjD8S9Tf4qjKah","messageID":"msg_1","partID":"prt_1","field":"text","delta":"Hello \"world\"\n"}}}"#,
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"id":"evt_2","type":"message.part.updated","properties":{"part":{"id":"prt_1","type":"tool","tool":"bash","state":{"status":"running","input":{"command":"ls"},"metadata":{"output":"a\nb"}}}}}}"#,
        r#"{"directory":"/home/me/projA","project":"10f0…","payload":{"type":"sync","syncEvent":{"id":"evt_3","type":"session.updated.1","seq":1,"aggregateID":"ses_1","data":{"sessionID":"ses_1","info":{"title":"x"}}},"id":"evt_3"}}"#,
        r#"{"directory":"/home/me/projA","payload":{"id":"evt_4","type":"session.idle","properties":{"sessionID":"ses_1"}}}"#,
        r#"{"directory":"/home/me/projA","payload":{"id":"evt_5","type":"plugin.added","properties":{"name":"x","list":[1,2,3]}}}"#,
        r#"{"payload":{"id":"evt_6","type":"server.heartbeat","properties":{}}}"#,
        // Not OpenCode's usual layout (type after properties): the full parse, still no
        // allocation for flat properties.
        r#"{"payload":{"properties":{"delta":"x"},"type":"message.part.delta"}}"#,
    ];
    for f in frames {
        let mut result = None;
        let n = allocations(|| {
            result = Some(matches!(
                decode(&server, f),
                Decoded::Noise | Decoded::Heartbeat
            ))
        });
        assert_eq!(result, Some(true), "{f}");
        assert_eq!(n, 0, "decoding allocated {n} times for {f}");
    }
}

#[test]
fn unknown_types_are_named_without_allocating() {
    let server: ServerUrl = ServerUrl::from("http://127.0.0.1:4096");
    let f = r#"{"directory":"/p","payload":{"id":"evt_7","type":"session.execution.started","properties":{"sessionID":"ses_1"}}}"#;
    let mut named = false;
    let n = allocations(|| {
        named = matches!(
            decode(&server, f),
            Decoded::Unknown("session.execution.started")
        )
    });
    assert!(named);
    assert_eq!(n, 0, "decoding an unknown type allocated {n} times");
}

#[test]
fn opencode_2_token_traffic_does_not_allocate() {
    use ocbar::daemon::source::decode_v2;
    let server: ServerUrl = ServerUrl::from("http://127.0.0.1:49374");
    let frames = [
        r#"{"id":"evt_1","created":1796471392347,"type":"session.text.delta","location":{"directory":"/home/me/projA"},"data":{"sessionID":"ses_1","assistantMessageID":"msg_1","ordinal":0,"delta":"Hello \"world\"\n"}}"#,
        r#"{"id":"evt_2","type":"session.tool.input.delta","durable":{"aggregateID":"ses_1","seq":9,"version":1},"data":{"sessionID":"ses_1","callID":"c1","delta":"{\"cmd\":"}}"#,
        r#"{"id":"evt_3","type":"session.usage.updated","data":{"sessionID":"ses_1","cost":0.1,"tokens":{"input":5}}}"#,
        // As a real 1.18.33 sends them on /api/event.
        r#"{"id":"evt_2460a0824001dQV72LjMB4PUmY","type":"plugin.added","location":{"directory":"/tmp/v2exp/proj"},"data":{"id":"core/config-reference"}}"#,
        // Not the usual layout (type after data): the full parse, still no allocation.
        r#"{"data":{"delta":"x"},"type":"session.text.delta"}"#,
    ];
    for f in frames {
        let mut result = None;
        let n = allocations(|| result = Some(matches!(decode_v2(&server, f), Decoded::Noise)));
        assert_eq!(result, Some(true), "{f}");
        assert_eq!(n, 0, "decoding allocated {n} times for {f}");
    }
}
