// This is a benchmark, not library code: setup failures should abort loudly,
// so unwrap/expect/indexing are fine here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! Logins over real HTTP: a real axum server on a loopback port, users in a
//! SQLite file, the default Argon2id hasher (m=19456 KiB, t=2, p=1), the
//! ready-made `auth_routes` under `/auth` and an unguarded `/health`.
//! Requests go over keep-alive HTTP/1.1 connections from a minimal client
//! (raw TCP, so the client adds nothing but a socket round trip).
//!
//! Two measurements, chosen by the first argument (both when absent):
//!
//! - `storm` (PERF.md, "login storm"): one client calls `/health` in a loop
//!   (one call every millisecond, 5 000 calls) and records each latency;
//!   first with the server idle, then while 100
//!   other connections each log in (right password) as fast as they are
//!   answered. Target: the storm p99 of `/health` at most 2x its idle p99.
//!   Password hashing runs off the async executor on a pool bounded by the
//!   core count, which is what keeps the executor free. Three rounds of
//!   idle-then-storm; the report gives each round and the median ratio.
//! - `enumeration` (SECURITY.md): 200 logins each, interleaved, for an
//!   unknown e-mail address, a wrong password, and an inactive account with
//!   its right password; every answer must be the same status and body, and
//!   the medians of the three latencies must differ by under 5 ms. Lockout
//!   would lock the accounts after 5 failures, so this server counts up to
//!   a million failures (lockout is measured apart, below). Then 200
//!   attempts on a locked account (default lockout: 5 failures): the same
//!   401 body, answered without hashing (SECURITY.md: under 1 ms).
//!
//! Run: `cargo bench -p lexigram-auth --features sqlite --bench login`
//! (`-- storm` or `-- enumeration` for one of them); `bash
//! scripts/enumeration.sh` runs the enumeration part.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use lexigram_auth::authn::{
    AuthenticationService, Created, Lockout, LockoutConfig, MemoryLockoutStore, NewUser,
    SqliteUserStore, UserStore, auth_routes,
};
use lexigram_auth::password::PasswordHasher;
use lexigram_auth::token::JwtTokenManager;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASSWORD: &str = "Correct-Horse-Battery-9";
const STORM_USERS: usize = 10;
const STORM_CLIENTS: usize = 100;
const PROBES: usize = 5_000;
const PROBE_INTERVAL: Duration = Duration::from_millis(1);
const ROUNDS: usize = 3;
const ENUM_SAMPLES: usize = 200;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A keep-alive HTTP/1.1 connection.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream: BufReader::new(stream),
        }
    }

    /// Sends one request; returns the status and the body.
    async fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: bench\r\n");
        if let Some(body) = body {
            request.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        if let Some(body) = body {
            request.push_str(body);
        }
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).await.unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await.unwrap();
        (status, String::from_utf8(body).unwrap())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A server on a fresh SQLite file; returns its address.
async fn serve(lockout: LockoutConfig, users: Arc<dyn UserStore>) -> SocketAddr {
    let tokens = JwtTokenManager::new("k1", [("k1", "a-32-byte-or-longer-hmac-secret!!")]).unwrap();
    let service = AuthenticationService::new(users, PasswordHasher::default(), tokens)
        .lockout(Lockout::new(Arc::new(MemoryLockoutStore::new()), lockout));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest("/auth", auth_routes(Arc::new(service)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn user_store(dir: &std::path::Path, name: &str) -> Arc<dyn UserStore> {
    let url = format!("sqlite://{}", dir.join(name).display());
    Arc::new(SqliteUserStore::connect(&url).await.unwrap())
}

async fn create(users: &dyn UserStore, email: &str, hash: &str, active: bool) {
    let new = NewUser::new(email, email).with_password_hash(hash);
    let Created::Created(mut user) = users.create_user(&new, now()).await.unwrap() else {
        panic!("{email} exists");
    };
    if !active {
        user.active = false;
        users.update_user(&user, now()).await.unwrap();
    }
}

fn login_body(email: &str, password: &str) -> String {
    format!(r#"{{"email":"{email}","password":"{password}"}}"#)
}

/// `PROBES` `/health` calls on one connection, one every
/// `PROBE_INTERVAL` (a monitoring client, not a load generator): sorted
/// latencies.
async fn probe(addr: SocketAddr) -> Vec<Duration> {
    let mut client = Client::connect(addr).await;
    for _ in 0..200 {
        assert_eq!(client.call("GET", "/health", None).await.0, 200);
    }
    let mut samples = Vec::with_capacity(PROBES);
    let mut next = Instant::now();
    for _ in 0..PROBES {
        next += PROBE_INTERVAL;
        let start = Instant::now();
        let (status, _) = client.call("GET", "/health", None).await;
        samples.push(start.elapsed());
        assert_eq!(status, 200);
        // Sleep out the gap (the timer's own lateness only shifts the
        // next call; it is not part of any measured latency).
        tokio::time::sleep_until(next.into()).await;
    }
    samples.sort();
    samples
}

fn storm(server: &tokio::runtime::Runtime, dir: &std::path::Path) {
    let users = server.block_on(user_store(dir, "storm.db"));
    let hash = server
        .block_on(PasswordHasher::default().hash(PASSWORD))
        .unwrap();
    for i in 0..STORM_USERS {
        server.block_on(create(
            &*users,
            &format!("user{i}@example.com"),
            &hash,
            true,
        ));
    }
    let addr = server.block_on(serve(LockoutConfig::default(), users));
    // The clients run on their own threads: the prober alone on one, the
    // 100 login connections on another, so neither delays the other.
    let prober = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ratios = Vec::new();
    println!(
        "login storm: {STORM_CLIENTS} concurrent login connections, {PROBES} /health probes (1 per ms) per phase, {} cores",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    for round in 1..=ROUNDS {
        let idle = prober.block_on(probe(addr));
        let stop = Arc::new(AtomicBool::new(false));
        let logins = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let storm_thread = {
            let stop = Arc::clone(&stop);
            let logins = Arc::clone(&logins);
            let failed = Arc::clone(&failed);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let mut tasks = Vec::new();
                    for c in 0..STORM_CLIENTS {
                        let stop = Arc::clone(&stop);
                        let logins = Arc::clone(&logins);
                        let failed = Arc::clone(&failed);
                        tasks.push(tokio::spawn(async move {
                            let mut client = Client::connect(addr).await;
                            let body = login_body(
                                &format!("user{}@example.com", c % STORM_USERS),
                                PASSWORD,
                            );
                            while !stop.load(Ordering::Relaxed) {
                                let (status, answer) =
                                    client.call("POST", "/auth/login", Some(&body)).await;
                                if status == 200 {
                                    logins.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    // Reported, not hidden: a login the
                                    // server could not complete.
                                    failed.fetch_add(1, Ordering::Relaxed);
                                    eprintln!("login answered {status}: {answer}");
                                }
                            }
                        }));
                    }
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
            })
        };
        // Let every connection get its first login into the hashing queue.
        std::thread::sleep(Duration::from_secs(2));
        let before = logins.load(Ordering::Relaxed);
        let start = Instant::now();
        let stormy = prober.block_on(probe(addr));
        let elapsed = start.elapsed();
        let during = logins.load(Ordering::Relaxed) - before;
        stop.store(true, Ordering::Relaxed);
        storm_thread.join().unwrap();
        assert!(during > 0, "no login completed during the storm");
        let (idle_p50, idle_p99) = (percentile(&idle, 0.5), percentile(&idle, 0.99));
        let (storm_p50, storm_p99) = (percentile(&stormy, 0.5), percentile(&stormy, 0.99));
        let ratio = storm_p99.as_secs_f64() / idle_p99.as_secs_f64();
        ratios.push(ratio);
        println!(
            "round {round}: idle p50 {:.0} us p99 {:.0} us | storm p50 {:.0} us p99 {:.0} us | p99 ratio {ratio:.2}x | {:.1} logins/s during the probes, {} failed logins",
            micros(idle_p50),
            micros(idle_p99),
            micros(storm_p50),
            micros(storm_p99),
            during as f64 / elapsed.as_secs_f64(),
            failed.load(Ordering::Relaxed)
        );
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "login storm: median /health p99 ratio {median:.2}x (target <= 2x): {}",
        if median <= 2.0 { "met" } else { "NOT met" }
    );
}

fn enumeration(server: &tokio::runtime::Runtime, dir: &std::path::Path) {
    let users = server.block_on(user_store(dir, "enumeration.db"));
    let hash = server
        .block_on(PasswordHasher::default().hash(PASSWORD))
        .unwrap();
    server.block_on(async {
        create(&*users, "known@example.com", &hash, true).await;
        create(&*users, "inactive@example.com", &hash, false).await;
        create(&*users, "locked@example.com", &hash, true).await;
    });
    let never_locks = LockoutConfig {
        max_failures: 1_000_000,
        window_seconds: 300,
        lockout_seconds: 300,
    };
    let addr = server.block_on(serve(never_locks, Arc::clone(&users)));
    let locking = server.block_on(serve(LockoutConfig::default(), users));
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let mut client = Client::connect(addr).await;
        let kinds = ["unknown user", "wrong password", "inactive account"];
        let body = |kind: usize, i: usize| match kind {
            0 => login_body(&format!("ghost{i}@example.com"), PASSWORD),
            1 => login_body("known@example.com", &format!("wrong-{i}")),
            _ => login_body("inactive@example.com", PASSWORD),
        };
        // Warm-up (connections, SQLite page cache, the hashing pool).
        for i in 0..10 {
            for kind in 0..kinds.len() {
                client
                    .call("POST", "/auth/login", Some(&body(kind, i)))
                    .await;
            }
        }
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
        let mut answers = std::collections::BTreeSet::new();
        for i in 0..ENUM_SAMPLES {
            // Rotate the order so that no kind always follows another.
            for k in 0..kinds.len() {
                let kind = (i + k) % kinds.len();
                let request = body(kind, i);
                let start = Instant::now();
                let answer = client.call("POST", "/auth/login", Some(&request)).await;
                samples[kind].push(start.elapsed());
                answers.insert(answer);
            }
        }
        let mut medians = Vec::new();
        println!("enumeration: {ENUM_SAMPLES} logins each, interleaved, over HTTP");
        for (kind, values) in kinds.iter().zip(samples.iter_mut()) {
            values.sort();
            let median = percentile(values, 0.5);
            medians.push(median);
            println!(
                "  {kind:<17} median {:.2} ms (p10 {:.2}, p90 {:.2})",
                millis(median),
                millis(percentile(values, 0.1)),
                millis(percentile(values, 0.9))
            );
        }
        let spread = *medians.iter().max().unwrap() - *medians.iter().min().unwrap();

        // A locked account: default lockout, five failures, then 200 tries.
        let mut locked_client = Client::connect(locking).await;
        for _ in 0..5 {
            let answer = locked_client
                .call(
                    "POST",
                    "/auth/login",
                    Some(&login_body("locked@example.com", "nope")),
                )
                .await;
            assert_eq!(answer.0, 401);
        }
        let mut locked = Vec::new();
        for _ in 0..ENUM_SAMPLES {
            let start = Instant::now();
            let answer = locked_client
                .call(
                    "POST",
                    "/auth/login",
                    Some(&login_body("locked@example.com", PASSWORD)),
                )
                .await;
            locked.push(start.elapsed());
            answers.insert(answer);
        }
        locked.sort();
        println!(
            "  {:<17} median {:.3} ms (p99 {:.3}), right password, no hash computed",
            "locked account",
            millis(percentile(&locked, 0.5)),
            millis(percentile(&locked, 0.99))
        );
        println!(
            "distinct (status, body) answers over all {} refusals: {} {:?}",
            ENUM_SAMPLES * 4,
            answers.len(),
            answers.iter().next().unwrap()
        );
        println!(
            "enumeration: largest difference of medians {:.3} ms (target < 5 ms): {}",
            millis(spread),
            if spread < Duration::from_millis(5) && answers.len() == 1 {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "locked attempts: median {:.3} ms (target < 1 ms): {}",
            millis(percentile(&locked, 0.5)),
            if percentile(&locked, 0.5) < Duration::from_millis(1) {
                "met"
            } else {
                "NOT met"
            }
        );
    });
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument names a part.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str()));
    let dir = std::env::temp_dir().join(format!("lexigram-login-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if run("enumeration") {
        enumeration(&server, &dir);
    }
    if run("storm") {
        storm(&server, &dir);
    }
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
