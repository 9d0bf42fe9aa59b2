//! Renderers on snapshots of 20 and 1000 sessions, and the daemon's per-generation render
//! cache (`cargo bench --bench render`).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ocbar::daemon::published::Published;
use ocbar::render::{self, RenderConfig};
use ocbar::wire::Format;

mod common;

fn renderers(c: &mut Criterion) {
    let cfg = RenderConfig::default();
    let mut g = c.benchmark_group("render");
    for n in [20usize, 1000] {
        let snap = common::snapshot(n);
        for f in Format::ALL {
            g.bench_function(BenchmarkId::new(f.as_str(), n), |b| {
                b.iter(|| black_box(render::render(f, black_box(&snap), common::NOW, &cfg)))
            });
        }
        g.bench_function(BenchmarkId::new("panel", n), |b| {
            b.iter(|| black_box(render::panel(black_box(&snap), common::NOW, &cfg)))
        });
    }
    g.finish();

    // What a query costs inside the daemon once the line is cached for this generation.
    let mut g = c.benchmark_group("published");
    for n in [20usize, 1000] {
        let published = Published::new(1, common::snapshot(n));
        let _ = published.render(Format::Tmux, common::NOW, &cfg);
        g.bench_function(BenchmarkId::new("tmux cached", n), |b| {
            b.iter(|| black_box(published.render(Format::Tmux, common::NOW, &cfg)))
        });
    }
    g.finish();
}

criterion_group!(benches, renderers);
criterion_main!(benches);
