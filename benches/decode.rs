//! Decoding `/global/event` frames: per event type, a realistic mix, and the SSE framer in
//! front of it (`cargo bench --bench decode`).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocbar::daemon::source::decode;
use ocbar::daemon::source::sse::{Frame, SseParser};

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
                        black_box(decode(&server, d));
                        n += 1;
                    }
                });
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, per_type, mix);
criterion_main!(benches);
