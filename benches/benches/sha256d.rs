//! Double SHA-256 of headers and merkle nodes: each of our implementations
//! against the `sha2` crate in the same process.
//!
//! `cargo bench -p benches --bench sha256d`, then `python3 benches/report.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use stratum::sha256d::{Implementation, Sha256d};

/// Headers and nodes per batch call: a miner-sim nonce scan or one level of
/// a block's merkle tree.
const BATCH: usize = 1024;

fn sha2_sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

fn header_bench(c: &mut Criterion) {
    let header = benches::sample_header();
    let mut group = c.benchmark_group("header");

    group.throughput(Throughput::Elements(1));
    group.bench_function("sha2", |b| b.iter(|| sha2_sha256d(black_box(&header))));
    for engine in benches::engines() {
        let midstate = engine.midstate(header[..64].try_into().unwrap());
        let tail: [u8; 16] = header[64..].try_into().unwrap();
        group.bench_function(BenchmarkId::new("midstate", engine.implementation()), |b| {
            b.iter(|| engine.hash_header(black_box(&midstate), black_box(&tail)))
        });
    }

    let tails = benches::nonce_tails(&header, BATCH);
    let mut out = vec![[0u8; 32]; BATCH];
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("sha2-batch", |b| {
        b.iter(|| {
            let mut full = header;
            for (tail, out) in tails.iter().zip(out.iter_mut()) {
                full[64..].copy_from_slice(tail);
                *out = sha2_sha256d(black_box(&full));
            }
        })
    });
    for engine in benches::engines() {
        let midstate = engine.midstate(header[..64].try_into().unwrap());
        group.bench_function(BenchmarkId::new("batch", engine.implementation()), |b| {
            b.iter(|| engine.hash_header_batch(black_box(&midstate), black_box(&tails), &mut out))
        });
    }
    group.finish();
}

fn merkle_node_bench(c: &mut Criterion) {
    let nodes = benches::sample_nodes(BATCH);
    let mut group = c.benchmark_group("merkle-node");

    group.throughput(Throughput::Elements(1));
    group.bench_function("sha2", |b| b.iter(|| sha2_sha256d(black_box(&nodes[0]))));
    for engine in benches::engines() {
        group.bench_function(BenchmarkId::new("single", engine.implementation()), |b| {
            b.iter(|| engine.hash_64(black_box(&nodes[0])))
        });
    }

    let mut out = vec![[0u8; 32]; BATCH];
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("sha2-batch", |b| {
        b.iter(|| {
            for (node, out) in nodes.iter().zip(out.iter_mut()) {
                *out = sha2_sha256d(black_box(node));
            }
        })
    });
    for engine in benches::engines() {
        group.bench_function(BenchmarkId::new("batch", engine.implementation()), |b| {
            b.iter(|| engine.hash_64_batch(black_box(&nodes), &mut out))
        });
    }
    group.finish();
}

fn message_bench(c: &mut Criterion) {
    // A 250-byte coinbase: what a share costs before the merkle branch.
    let coinbase = benches::sample_bytes(250, 3);
    let mut group = c.benchmark_group("coinbase-250");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sha2", |b| b.iter(|| sha2_sha256d(black_box(&coinbase))));
    for engine in benches::engines()
        .into_iter()
        .filter(|engine| engine.implementation() != Implementation::Avx2)
    {
        group.bench_function(BenchmarkId::new("single", engine.implementation()), |b| {
            b.iter(|| engine.hash(black_box(&coinbase)))
        });
    }
    group.finish();
    let _ = Sha256d::best();
}

criterion_group!(benches, header_bench, merkle_node_bench, message_bench);
criterion_main!(benches);
