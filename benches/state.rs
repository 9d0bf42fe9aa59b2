//! The model: applying events, the whole ingest path (framer + decode + apply), and building
//! snapshots (`cargo bench --bench state`).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ocbar::daemon::source::decode::{self, Decoded};
use ocbar::daemon::source::sse::{Frame, SseParser};
use ocbar::model::event::Event;

mod common;
use common::frames;

/// Decoded model events of a realistic stream over `sessions` sessions (noise dropped).
fn events(frames: &[String]) -> Vec<Event> {
    let server = common::server();
    frames
        .iter()
        .filter_map(|f| match decode::decode(&server, f) {
            Decoded::Event(e, _) => Some(e),
            _ => None,
        })
        .collect()
}

fn apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    // One status change on a model of 20 / 1000 sessions (busy → done → busy, the edge that
    // changes what bars show).
    for n in [20usize, 1000] {
        let server = common::server();
        let session: std::sync::Arc<str> = frames::session_id(0).into();
        let mk = |status| Event::Status {
            server: server.clone(),
            directory: frames::directory(0),
            session: session.clone(),
            status,
        };
        let idle = mk(ocbar::model::event::Status::Idle);
        let busy = mk(ocbar::model::event::Status::Busy);
        let mut state = common::model(n);
        g.throughput(Throughput::Elements(2));
        g.bench_function(BenchmarkId::new("status busy->idle->busy", n), |b| {
            b.iter(|| {
                black_box(state.apply(idle.clone(), common::NOW));
                black_box(state.apply(busy.clone(), common::NOW));
            })
        });
    }
    // The decoded (non-noise) events of the realistic mix, on a model of 20 sessions.
    let mix = frames::realistic(10_000, 20);
    let evs = events(&mix);
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function(format!("{} decoded events of the mix", evs.len()), |b| {
        b.iter_batched(
            || (common::model(20), evs.clone()),
            |(mut state, evs)| {
                for e in evs {
                    black_box(state.apply(e, common::NOW));
                }
                state
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// What the daemon does per network chunk: frame, decode, drop noise, apply the rest.
fn ingest(c: &mut Criterion) {
    let server = common::server();
    let mut g = c.benchmark_group("ingest");
    for sessions in [20usize, 1000] {
        let mix = frames::realistic(20_000, sessions);
        let body = frames::sse_body(&mix);
        g.throughput(Throughput::Elements(mix.len() as u64));
        g.bench_function(
            BenchmarkId::new("framer+decode+apply, sessions", sessions),
            |b| {
                b.iter_batched(
                    || common::model(sessions),
                    |mut state| {
                        let mut p = SseParser::new(decode::MAX_FRAME_BYTES);
                        for chunk in body.as_bytes().chunks(16 * 1024) {
                            p.push(chunk, |f| {
                                if let Frame::Data(d) = f
                                    && let Decoded::Event(e, _) = decode::decode_frame(&server, d)
                                {
                                    black_box(state.apply(e, common::NOW));
                                }
                            });
                        }
                        state
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    g.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot");
    for n in [20usize, 1000] {
        let state = common::model(n);
        g.bench_function(BenchmarkId::new("build", n), |b| {
            b.iter(|| black_box(state.snapshot()))
        });
        // What the state file keeps: hashed after every publish, built only when the hash
        // changed (see `StateLoop::persist`).
        g.bench_function(BenchmarkId::new("persisted fingerprint", n), |b| {
            b.iter(|| black_box(state.persisted_fingerprint()))
        });
        g.bench_function(BenchmarkId::new("persisted", n), |b| {
            b.iter(|| black_box(state.persisted()))
        });
    }
    g.finish();
}

criterion_group!(benches, apply, ingest, snapshot);
criterion_main!(benches);
