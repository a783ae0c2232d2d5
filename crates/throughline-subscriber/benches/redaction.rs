//! Redacting one large value packed with secrets, at sizes doubling from
//! 128 KiB to 1 MiB: the scan is linear, so each doubling should cost about
//! twice as much. Times by criterion, then instructions by callgrind (which
//! do not move when the machine is busy).
//!
//! `cargo bench -p throughline-subscriber --bench redaction`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use throughline_bench_support::callgrind;
use throughline_subscriber::Redaction;

/// Secrets of each default pattern and near misses (a card failing Luhn,
/// an address without a domain, a query key that is not sensitive), 85
/// bytes, repeated.
const UNIT: &str = "a@b.cd 4111 1111 1111 1111 Bearer abcdefgh12 4111111111111112 x@y /?q=1&token=s3cr3t ";

const SIZES_KIB: [usize; 4] = [128, 256, 512, 1024];

fn adversarial(kib: usize) -> String {
    let len = kib * 1024;
    let mut text = UNIT.repeat(len / UNIT.len() + 1);
    text.truncate(len);
    text
}

fn redact(policy: &Redaction, text: &str) -> usize {
    policy.redact_text(black_box(text)).len()
}

fn main() {
    let policy = Redaction::default();
    // Child mode: redact the value of one size as `callgrind::per_iteration` asked.
    if let Some((index, iterations)) = callgrind::child() {
        let text = adversarial(SIZES_KIB[index]);
        for _ in 0..=iterations {
            black_box(redact(&policy, &text));
        }
        return;
    }
    if !throughline_bench_support::benchmarking() {
        return; // `cargo test --benches`: nothing to measure
    }

    let mut criterion = Criterion::default().sample_size(20).configure_from_args();
    let mut group = criterion.benchmark_group("redact_text, secret-packed value");
    for kib in SIZES_KIB {
        let text = adversarial(kib);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(format!("{kib} KiB")), &text, |b, text| {
            b.iter(|| redact(&policy, text));
        });
    }
    group.finish();
    criterion.final_summary();

    println!("| size | instructions | per byte | against half the size |");
    println!("|---:|---:|---:|---:|");
    let mut previous: Option<u64> = None;
    for (index, kib) in SIZES_KIB.iter().enumerate() {
        let Some(count) = callgrind::per_iteration(index, 3) else {
            return eprintln!("{}", callgrind::MISSING);
        };
        let ratio = previous.map_or("".to_owned(), |p| format!("{:.2}x", count as f64 / p as f64));
        println!("| {kib} KiB | {count} | {:.1} | {ratio} |", count as f64 / (kib * 1024) as f64);
        previous = Some(count);
    }
}
