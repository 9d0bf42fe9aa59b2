//! What the laptop's daemon does per line a remote machine pushes (`ocbar daemon --remote`):
//! parse the bridge's JSON line, clean and bound it, diff it against what was held (the
//! notifications), and add the host's sessions to the published snapshot
//! (`cargo bench --bench remote`).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ocbar::daemon::remote::sanitize::sanitize;
use ocbar::model::remote::{RemoteEvent, Remotes};
use ocbar::wire::remote::RemoteLine;

mod common;

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("remote");
    let host: Arc<str> = Arc::from("devbox");
    for n in [20usize, 1000] {
        let snap = common::model(n).snapshot();
        let line = RemoteLine::Snapshot(Box::new(snap.clone())).to_line();
        let mut remotes = Remotes::default();
        remotes.apply(RemoteEvent::Added { host: host.clone() }, common::NOW);
        remotes.apply(
            RemoteEvent::Snapshot {
                host: host.clone(),
                snapshot: sanitize(snap.clone()),
            },
            common::NOW,
        );
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(BenchmarkId::new("line: parse, clean, diff", n), |b| {
            b.iter(|| {
                let Ok(RemoteLine::Snapshot(s)) = serde_json::from_str::<RemoteLine>(&line) else {
                    panic!("not a snapshot line");
                };
                let ev = RemoteEvent::Snapshot {
                    host: host.clone(),
                    snapshot: sanitize(*s),
                };
                black_box(remotes.apply(ev, common::NOW))
            })
        });
        let local = common::model(20).snapshot();
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("merged snapshot (20 local)", n), |b| {
            b.iter(|| {
                let mut s = local.clone();
                remotes.add_to(&mut s);
                black_box(s)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
