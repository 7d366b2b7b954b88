//! Full share validation: cold (new extranonce2: coinbase, 12-level merkle
//! branch, midstate, header) against hot (a rolled nonce: two compressions).
//!
//! `cargo bench -p benches --bench share`, then `python3 benches/report.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use stratum::share::ShareValidator;
use stratum::{Extranonce2, Nonce, Target, VersionMask};

fn share_bench(c: &mut Criterion) {
    let job = benches::sample_job();
    let mask = VersionMask::POOL_DEFAULT;
    let share_target = Target::MAX;
    let mut group = c.benchmark_group("share");
    group.throughput(Throughput::Elements(1));
    for engine in benches::engines() {
        // Cold: every share brings an extranonce2 the cache has not seen.
        let mut validator = ShareValidator::new(engine, 1 << 20);
        let mut share = benches::sample_share();
        let mut counter = 0u64;
        group.bench_function(BenchmarkId::new("cold", engine.implementation()), |b| {
            b.iter(|| {
                counter += 1;
                share.extranonce2 = Extranonce2::from_bytes(&counter.to_be_bytes()).unwrap();
                validator
                    .validate(black_box(&job), black_box(&share), mask, &share_target)
                    .unwrap()
            })
        });

        // Hot: the miner rolls the nonce on the same extranonce2 and version.
        let mut validator = ShareValidator::new(engine, 1 << 20);
        let mut share = benches::sample_share();
        validator
            .validate(&job, &share, mask, &share_target)
            .unwrap();
        group.bench_function(BenchmarkId::new("hot", engine.implementation()), |b| {
            b.iter(|| {
                share.nonce = Nonce(share.nonce.0.wrapping_add(1));
                validator
                    .validate(black_box(&job), black_box(&share), mask, &share_target)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, share_bench);
criterion_main!(benches);
