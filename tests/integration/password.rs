//! Password hashing against published vectors and the reference Argon2 CLI.
//!
//! - RFC 9106 section 5 known-answer tags (with secret and associated data);
//! - the phc-winner-argon2 test.c PHC strings (`tests/data/password/`);
//! - Openwall crypt_blowfish's bcrypt vectors, 8-bit passwords included;
//! - Python lexigram-auth bcrypt hashes of passwords over 72 bytes;
//! - 1 000 random cross-checks with the reference `argon2` CLI, read from
//!   `LEXIGRAM_TEST_ARGON2_CLI` (installed by `scripts/test.sh`); without the
//!   variable that test prints one line naming it and returns.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use argon2::password_hash::CustomizedPasswordHasher;
use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use lexigram_auth::password::{PasswordError, PasswordHasher, Verification};

fn data(name: &str) -> String {
    let path = format!("{}/data/password/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rows(name: &str) -> Vec<Vec<String>> {
    data(name)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 9106 section 5: password 32 x 0x01, salt 16 x 0x02, secret 8 x 0x03,
/// associated data 12 x 0x04, m=32 KiB, t=3, p=4, 32-byte tag, version 0x13.
#[test]
fn rfc9106_section5_tags() {
    let cases = [
        (
            Algorithm::Argon2d,
            "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb",
        ),
        (
            Algorithm::Argon2i,
            "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8",
        ),
        // Section 5.3, the Argon2id vector.
        (
            Algorithm::Argon2id,
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
        ),
    ];
    for (algorithm, tag_hex) in cases {
        let params = ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(AssociatedData::new(&[0x04; 12]).unwrap())
            .output_len(32)
            .build()
            .unwrap();
        let argon2 =
            Argon2::new_with_secret(&[0x03; 8], algorithm, Version::V0x13, params).unwrap();
        let mut tag = [0u8; 32];
        argon2
            .hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
            .unwrap();
        assert_eq!(tag.to_vec(), unhex(tag_hex), "{algorithm:?}");
    }
}

/// RFC 9106's associated data travels in the PHC string (`data=`): our
/// verifier reads it (without the secret, which PHC strings never carry).
#[tokio::test]
async fn phc_strings_with_associated_data_verify() {
    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(AssociatedData::new(&[0x04; 12]).unwrap())
        .build()
        .unwrap();
    let phc = Argon2::default()
        .hash_password_customized(
            &[0x01; 32],
            &[0x02; 16],
            Some("argon2id"),
            Some(0x13),
            params,
        )
        .unwrap()
        .to_string();
    assert!(phc.contains(",data=BAQEBAQEBAQEBAQE$"), "{phc}");
    let hasher = PasswordHasher::default();
    assert!(hasher.verify([0x01; 32], &phc).await.unwrap().is_match());
    let without_data = phc.replace(",data=BAQEBAQEBAQEBAQE", "");
    assert_eq!(
        hasher.verify([0x01; 32], &without_data).await.unwrap(),
        Verification::NoMatch
    );
}

#[tokio::test]
async fn argon2_reference_phc_strings_verify() {
    let hasher = PasswordHasher::default();
    let rows = rows("argon2-reference-phc.tsv");
    assert_eq!(rows.len(), 30);
    for row in &rows {
        let (password, phc) = (&row[0], &row[1]);
        let v = hasher.verify(password, phc).await.unwrap();
        // Only Argon2id v19 with m >= 19456 and t >= 2 is as strong as ours.
        let as_strong = phc.starts_with("$argon2id$v=19$m=65536,t=2")
            || phc.starts_with("$argon2id$v=19$m=65536,t=4");
        assert_eq!(
            v,
            Verification::Match {
                needs_rehash: !as_strong
            },
            "{phc}"
        );
        let wrong = hasher.verify(format!("{password}!"), phc).await.unwrap();
        assert_eq!(wrong, Verification::NoMatch, "{phc}");
    }
}

#[tokio::test]
async fn crypt_blowfish_vectors() {
    let hasher = PasswordHasher::default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for row in rows("crypt_blowfish.tsv") {
        let (expect, password, hash) = (row[0].as_str(), unhex(&row[1]), row[2].as_str());
        *counts.entry(expect.to_owned()).or_default() += 1;
        let outcome = hasher.verify(&password, hash).await;
        match expect {
            "match" => {
                assert_eq!(
                    outcome.unwrap(),
                    Verification::Match { needs_rehash: true },
                    "{hash}"
                );
                let mut wrong = password.clone();
                wrong.push(b'x');
                assert_eq!(
                    hasher.verify(&wrong, hash).await.unwrap(),
                    Verification::NoMatch
                );
            }
            "countermeasure" => assert_eq!(outcome.unwrap(), Verification::NoMatch, "{hash}"),
            "unsupported" => assert_eq!(
                outcome.unwrap_err(),
                PasswordError::UnsupportedScheme("2x".into()),
                "{hash}"
            ),
            "over72" => {
                // Over 72 bytes we check the Python pre-hash format only...
                assert_eq!(outcome.unwrap(), Verification::NoMatch, "{hash}");
                // ...while bcrypt itself reads the first 72 bytes.
                assert!(
                    hasher
                        .verify(&password[..72], hash)
                        .await
                        .unwrap()
                        .is_match(),
                    "{hash}"
                );
            }
            "invalid" => assert!(outcome.is_err(), "{hash}"),
            other => panic!("unknown expectation {other}"),
        }
    }
    let expected: std::collections::BTreeMap<String, usize> = [
        ("countermeasure", 2),
        ("invalid", 7),
        ("match", 16),
        ("over72", 2),
        ("unsupported", 8),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn python_lexigram_bcrypt_long_passwords_verify() {
    let hasher = PasswordHasher::default();
    let rows = rows("python-bcrypt-long.tsv");
    assert_eq!(rows.len(), 4);
    for row in rows {
        let password = String::from_utf8(unhex(&row[0])).unwrap();
        assert!(password.len() > 72);
        let hash = &row[2];
        assert_eq!(
            hasher.verify(&password, hash).await.unwrap(),
            Verification::Match { needs_rehash: true },
            "{hash}"
        );
        // The stored pre-hash matches too (it is password-equivalent, a
        // property of the Python format)...
        assert!(hasher.verify(&row[1], hash).await.unwrap().is_match());
        // ...and plain bcrypt of the first 72 bytes is not what was stored.
        let first72 = &password.as_bytes()[..72];
        assert_eq!(
            hasher.verify(first72, hash).await.unwrap(),
            Verification::NoMatch
        );
    }
}

/// A small deterministic generator: the cases differ per run only by seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn text(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| alphabet[self.range(0, alphabet.len() as u64 - 1) as usize] as char)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cross_checks_with_the_argon2_cli() {
    let Ok(cli) = std::env::var("LEXIGRAM_TEST_ARGON2_CLI") else {
        println!(
            "skipped: set LEXIGRAM_TEST_ARGON2_CLI to the reference argon2 CLI (scripts/test.sh does)"
        );
        return;
    };
    const CASES: usize = 1_000;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("argon2 CLI cross-check seed {seed}");
    let mut rng = XorShift(seed);
    let printable: Vec<u8> = (0x20..0x7f).collect();
    let salt_chars = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let hasher = PasswordHasher::default();
    let started = Instant::now();
    let mut cli_time = std::time::Duration::ZERO;
    for case in 0..CASES {
        let password_len = rng.range(1, 64) as usize;
        let password = rng.text(password_len, &printable);
        let salt_len = rng.range(8, 32) as usize;
        let salt = rng.text(salt_len, salt_chars);
        let (flag, algorithm) =
            [("-i", "argon2i"), ("-d", "argon2d"), ("-id", "argon2id")][rng.range(0, 2) as usize];
        let version = if rng.range(0, 3) == 0 { 0x10 } else { 0x13 };
        let p = rng.range(1, 4) as u32;
        let m = rng.range(8 * u64::from(p), 256) as u32;
        let t = rng.range(1, 3) as u32;
        let len = rng.range(16, 64) as usize;

        let cli_started = Instant::now();
        let mut child = Command::new(&cli)
            .args([
                salt.as_str(),
                flag,
                "-v",
                if version == 0x10 { "10" } else { "13" },
            ])
            .args([
                "-t",
                &t.to_string(),
                "-k",
                &m.to_string(),
                "-p",
                &p.to_string(),
            ])
            .args(["-l", &len.to_string(), "-e"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("argon2 CLI");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        cli_time += cli_started.elapsed();
        assert!(output.status.success(), "case {case}: CLI failed");
        let cli_phc = String::from_utf8(output.stdout).unwrap().trim().to_owned();

        // Our encoder (the one `PasswordHasher::hash` uses) gives the same string.
        let params = ParamsBuilder::new()
            .m_cost(m)
            .t_cost(t)
            .p_cost(p)
            .output_len(len)
            .build()
            .unwrap();
        let ours = Argon2::default()
            .hash_password_customized(
                password.as_bytes(),
                salt.as_bytes(),
                Some(algorithm),
                Some(version),
                params,
            )
            .unwrap()
            .to_string();
        assert_eq!(ours, cli_phc, "case {case} (seed {seed})");

        // Our verifier accepts the CLI's hash, and only for its password.
        let v = hasher.verify(&password, &cli_phc).await.unwrap();
        assert_eq!(
            v,
            Verification::Match { needs_rehash: true },
            "case {case}: {cli_phc}"
        );
        if case % 10 == 0 {
            let wrong = format!("{password}x");
            assert_eq!(
                hasher.verify(&wrong, &cli_phc).await.unwrap(),
                Verification::NoMatch
            );
        }
    }
    println!(
        "argon2 CLI cross-check: {CASES} cases in {:.1} s ({:.1} s in the CLI)",
        started.elapsed().as_secs_f64(),
        cli_time.as_secs_f64()
    );
}
