//! RowBinary encoding of a 10k-hit batch (`Hit::encode_batch`), the writer's unit of work.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

fn encode(c: &mut Criterion) {
    let hits = benches::sample_hits(10_000);
    let bytes = common::hit::Hit::encode_batch(&hits).len();
    eprintln!(
        "a 10k-hit batch is {bytes} bytes ({} per hit)",
        bytes / hits.len()
    );
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(hits.len() as u64));
    g.bench_function("encode_batch_10k", |b| {
        b.iter(|| black_box(common::hit::Hit::encode_batch(black_box(&hits))))
    });
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
