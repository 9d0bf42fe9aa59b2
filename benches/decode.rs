//! Decoding `/global/event` frames: per event type, a realistic mix, and the SSE framer in
//! front of it (`cargo bench --bench decode`); and OpenCode 2's `/api/event` frames
//! (`cargo bench --bench decode -- decode_v2`).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocbar::daemon::source::sse::{Frame, SseParser};
use ocbar::daemon::source::{decode, decode_v2};

mod common;
use common::frames::{self, Kind};

fn per_type(c: &mut Criterion) {
    let server = common::server();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let mut cases: Vec<(String, String)> = Kind::ALL
        .iter()
        .map(|&k| (k.name().to_string(), frames::frame(k, 3, 1234)))
        .collect();
    cases.extend([
        ("session.status retry".into(), frames::status(3, 1, "retry")),
        ("session.status idle".into(), frames::status(3, 1, "idle")),
        ("session.error".into(), frames::session_error(3, 1)),
        ("permission.asked".into(), frames::permission_asked(3, 1)),
    ]);
    for (name, frame) in &cases {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(decode(&server, black_box(frame))))
        });
    }
    g.finish();
}

fn mix(c: &mut Criterion) {
    let server = common::server();
    let mut g = c.benchmark_group("decode mix");
    let mix = frames::realistic(10_000, 20);
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("realistic 10k frames", |b| {
        b.iter(|| {
            for f in &mix {
                black_box(decode(&server, f));
            }
        })
    });
    // Captured real streams, when another engineer has added them.
    let captured = frames::fixture_payloads(Path::new(env!("CARGO_MANIFEST_DIR")));
    if !captured.is_empty() {
        g.throughput(Throughput::Elements(captured.len() as u64));
        g.bench_function("tests/fixtures/*.sse", |b| {
            b.iter(|| {
                for f in &captured {
                    black_box(decode(&server, f));
                }
            })
        });
    }
    // The SSE framer and the decoder together, on a body read in 16 KiB chunks.
    let body = frames::sse_body(&mix);
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("sse framer + decode, 16 KiB chunks", |b| {
        b.iter(|| {
            let mut p = SseParser::new(decode::MAX_FRAME_BYTES);
            let mut n = 0u32;
            for chunk in body.as_bytes().chunks(16 * 1024) {
                p.push(chunk, |f| {
                    if let Frame::Data(d) = f {
                        black_box(decode::decode_frame(&server, d));
                        n += 1;
                    }
                });
            }
            n
        })
    });
    g.finish();
}

/// OpenCode 2 frames as its `/api/event` writes them (`id`, `created` before `type`).
fn per_type_v2(c: &mut Criterion) {
    let server = common::server();
    let mut g = c.benchmark_group("decode_v2");
    g.throughput(Throughput::Elements(1));
    let cases = [
        (
            "session.text.delta (noise)",
            r#"{"id":"evt_2460a0b95002IMpqTiKz4jWOqZ","created":1796471393173,"type":"session.text.delta","location":{"directory":"/home/me/projA"},"durable":{"aggregateID":"ses_db9f5f838ffeFKfYpSw1ojnC0x","seq":41,"version":1},"data":{"sessionID":"ses_db9f5f838ffeFKfYpSw1ojnC0x","assistantMessageID":"msg_2460a0b95001dLfxfvmoERUNkl","ordinal":0,"delta":"Hello, here is the next token of the answer"}}"#,
        ),
        (
            "session.execution.started",
            r#"{"id":"evt_2460a0b95002IMpqTiKz4jWOqZ","created":1796471393173,"type":"session.execution.started","location":{"directory":"/home/me/projA"},"data":{"sessionID":"ses_db9f5f838ffeFKfYpSw1ojnC0x"}}"#,
        ),
        (
            "session.created (flat)",
            r#"{"id":"evt_2460a07c7002Vsqk1v80Q1H3u3","created":1796471392199,"type":"session.created","location":{"directory":"/home/me/projA"},"data":{"sessionID":"ses_db9f5f838ffeFKfYpSw1ojnC0x","projectID":"prj_1","location":{"directory":"/home/me/projA"},"slug":"brave-eagle","title":"Fix the parser","agent":"build","model":{"id":"m","providerID":"p"},"time":{"created":1796471392199,"updated":1796471392199}}}"#,
        ),
    ];
    for (name, frame) in cases {
        g.bench_function(name, |b| {
            b.iter(|| black_box(decode_v2(&server, black_box(frame))))
        });
    }
    g.finish();
}

criterion_group!(benches, per_type, mix, per_type_v2);
criterion_main!(benches);
