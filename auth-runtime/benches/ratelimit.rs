// This is a benchmark, not library code: setup failures should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

//! A keyed rate-limit check: `MemoryRateLimiter::check_now` against
//! governor's keyed limiter (`RateLimiter::keyed`, DashMap state, quanta
//! clock), on the same keys and quota, interleaved as in the token bench
//! (61 rounds of one ~4 ms batch per variant, rotating order; medians of the
//! per-round ratios). PERF.md target: at most 0.7x governor.
//!
//! Cases: one hot key, 10 000 client keys taken in turn (each check a
//! different key, as behind a busy login route), and 10 000 longer keys
//! (a route and an IPv6 address, past the 22 bytes our buckets hold in
//! place); then one key checked by 2 and by 8 threads at once (wall time
//! per check; informative, no target). The quota is generous so
//! every check is allowed: both sides do their full read-modify-write.
//!
//! Run: `cargo bench -p lexigram-auth --bench ratelimit`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use lexigram_auth::ratelimit::{MemoryRateLimiter, Quota};

const ROUNDS: usize = 61;
const BATCH_TARGET: Duration = Duration::from_millis(4);

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn run(name: &str, keys: &[String]) {
    let ours = MemoryRateLimiter::new();
    // One request per microsecond with a burst of 2^32 - 1: never denied here.
    let quota = Quota::new(u32::MAX, Duration::from_secs(4_295)).unwrap();
    let peer = governor::RateLimiter::keyed(governor::Quota::per_second(
        NonZeroU32::new(1_000_000_000).unwrap(),
    ));
    let n = keys.len();
    let mut i = 0usize;
    let mut j = 0usize;
    let mut ours_check = || {
        i = (i + 1) % n;
        ours.check_now(black_box(&keys[i]), quota).is_allowed()
    };
    let mut peer_check = || {
        j = (j + 1) % n;
        peer.check_key(black_box(&keys[j])).is_ok()
    };
    assert!(ours_check());
    assert!(peer_check());

    let batch = |f: &mut dyn FnMut() -> bool| {
        let start = Instant::now();
        let mut count = 0u32;
        while start.elapsed() < BATCH_TARGET {
            assert!(f());
            count += 1;
        }
        count
    };
    let sizes = [batch(&mut ours_check), batch(&mut peer_check)];
    let mut samples = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for k in 0..2 {
            let v = (round + k) % 2;
            let start = Instant::now();
            for _ in 0..sizes[v] {
                if v == 0 {
                    black_box(ours_check());
                } else {
                    black_box(peer_check());
                }
            }
            samples[v].push(start.elapsed().as_secs_f64() / f64::from(sizes[v]));
        }
    }
    let mut ratios: Vec<f64> = samples[0]
        .iter()
        .zip(&samples[1])
        .map(|(a, b)| a / b)
        .collect();
    let ours_ns = median(&mut samples[0].clone()) * 1e9;
    let peer_ns = median(&mut samples[1].clone()) * 1e9;
    println!(
        "ratelimit_{name}: lexigram {ours_ns:.1} ns, governor {peer_ns:.1} ns, {:.3}x governor (median of {ROUNDS} per-round ratios)",
        median(&mut ratios)
    );
}

/// `THREADS` threads checking the same key at once (the machine has two
/// cores): the wall time per check of each side, medians of interleaved
/// rounds.
fn contended<const THREADS: usize>() {
    use std::sync::Barrier;
    const PER_THREAD: u32 = 50_000;
    let ours = MemoryRateLimiter::new();
    let quota = Quota::new(u32::MAX, Duration::from_secs(4_295)).unwrap();
    let peer = governor::RateLimiter::keyed(governor::Quota::per_second(
        NonZeroU32::new(1_000_000_000).unwrap(),
    ));
    let key = "rl:/login:203.0.113.1".to_owned();
    let time = |f: &(dyn Fn() -> bool + Sync)| {
        let barrier = Barrier::new(THREADS);
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..PER_THREAD {
                        assert!(f());
                    }
                });
            }
        });
        start.elapsed().as_secs_f64() / (THREADS as f64 * f64::from(PER_THREAD))
    };
    let ours_check = || ours.check_now(black_box(&key), quota).is_allowed();
    let peer_check = || peer.check_key(black_box(&key)).is_ok();
    let mut samples = [Vec::new(), Vec::new()];
    for round in 0..15 {
        for k in 0..2 {
            let v = (round + k) % 2;
            samples[v].push(if v == 0 {
                time(&ours_check)
            } else {
                time(&peer_check)
            });
        }
    }
    let mut ratios: Vec<f64> = samples[0]
        .iter()
        .zip(&samples[1])
        .map(|(a, b)| a / b)
        .collect();
    println!(
        "ratelimit_contended_{THREADS}: lexigram {:.1} ns, governor {:.1} ns per check (wall, {THREADS} threads), {:.3}x governor (median of 15 per-round ratios)",
        median(&mut samples[0].clone()) * 1e9,
        median(&mut samples[1].clone()) * 1e9,
        median(&mut ratios)
    );
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    if wanted("one_key") {
        run("one_key", &["rl:/login:203.0.113.1".to_owned()]);
    }
    if wanted("10k_keys") {
        let keys: Vec<String> = (0..10_000)
            .map(|i| format!("rl:/login:10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256))
            .collect();
        run("10k_keys", &keys);
    }
    if wanted("contended_2") {
        contended::<2>();
    }
    if wanted("contended_8") {
        contended::<8>();
    }
    if wanted("10k_long_keys") {
        // Keys past the 22 bytes kept in place (a route and an IPv6
        // address): each is kept in a heap copy.
        let keys: Vec<String> = (0..10_000)
            .map(|i| format!("rl:/auth/login:2001:db8:0:{:x}::{:x}", i / 256, i % 256))
            .collect();
        run("10k_long_keys", &keys);
    }
}
