//! `gen-secret` and `gen-keypair`.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Args, ValueEnum};
use lexigram_auth::Principal;
use lexigram_auth::token::{Algorithm, JwtTokenManager, Key};
use zeroize::Zeroizing;

use crate::exit::{CliError, Outcome};

/// The shortest secret `gen-secret` prints: 32 bytes, HS256's minimum.
const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Args)]
pub(crate) struct GenSecret {
    /// How many random bytes (at least 32; 64 suits HS512).
    #[arg(long, default_value_t = 64, value_parser = parse_secret_bytes)]
    bytes: usize,
}

fn parse_secret_bytes(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    if !(MIN_SECRET_BYTES..=4096).contains(&n) {
        return Err(format!("{n} is outside 32 to 4096 bytes"));
    }
    Ok(n)
}

pub(crate) fn gen_secret(args: &GenSecret) -> Result<Outcome, CliError> {
    let mut bytes = Zeroizing::new(vec![0u8; args.bytes]);
    getrandom::fill(bytes.as_mut_slice())
        .map_err(|e| CliError::system(format!("no random bytes from the operating system: {e}")))?;
    let text = Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_slice()));
    println!("{}", text.as_str());
    Ok(Outcome::Success)
}

/// The algorithms `gen-keypair` makes keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyAlgorithm {
    /// EdDSA with Ed25519 (the smallest and fastest).
    Ed25519,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`--bits`).
    Rs256,
}

impl KeyAlgorithm {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Ed25519 => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Es256 => "es256",
            Self::Rs256 => "rs256",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct GenKeypair {
    /// The algorithm.
    #[arg(long, value_enum)]
    alg: KeyAlgorithm,
    /// The RSA modulus size (rs256 only).
    #[arg(long, value_parser = ["2048", "3072", "4096"])]
    bits: Option<String>,
    /// The key id (`kid`); default: the algorithm and random hex.
    #[arg(long)]
    kid: Option<String>,
    /// Where to write `<kid>.pem` (private), `<kid>.pub.pem` and
    /// `<kid>.jwk.json`; created when missing. Existing files are never
    /// overwritten.
    #[arg(long)]
    out_dir: PathBuf,
}

pub(crate) fn gen_keypair(args: &GenKeypair) -> Result<Outcome, CliError> {
    if args.bits.is_some() && args.alg != KeyAlgorithm::Rs256 {
        return Err(CliError::refused("`--bits` applies to `--alg rs256` only"));
    }
    let kid = match &args.kid {
        Some(kid) => {
            check_kid(kid)?;
            kid.clone()
        }
        None => format!("{}-{}", args.alg.label(), random_hex(4)?),
    };
    let (private_der, public_der) = generate(args.alg, args.bits.as_deref())?;
    let private_pem = Zeroizing::new(pem("PRIVATE KEY", &private_der));
    let public_pem = pem("PUBLIC KEY", &public_der);
    let algorithm = args.alg.algorithm();

    // The key must load, sign and verify in the token manager as the
    // configuration would give it; its JWK is the manager's own.
    let jwk = checked_jwk(algorithm, &kid, &private_pem, &public_pem)?;

    std::fs::create_dir_all(&args.out_dir).map_err(|e| {
        CliError::system(format!(
            "`{}` cannot be created: {e}",
            args.out_dir.display()
        ))
    })?;
    let private_path = args.out_dir.join(format!("{kid}.pem"));
    let public_path = args.out_dir.join(format!("{kid}.pub.pem"));
    let jwk_path = args.out_dir.join(format!("{kid}.jwk.json"));
    for path in [&private_path, &public_path, &jwk_path] {
        if path.exists() {
            return Err(CliError::refused(format!(
                "`{}` already exists; choose another `--kid` or `--out-dir`",
                path.display()
            )));
        }
    }
    write_new(&private_path, private_pem.as_bytes(), true)?;
    write_new(&public_path, public_pem.as_bytes(), false)?;
    write_new(&jwk_path, format!("{jwk}\n").as_bytes(), false)?;

    println!("private key: {} (keep it secret)", private_path.display());
    println!("public key:  {}", public_path.display());
    println!("public JWK:  {}", jwk_path.display());
    println!();
    println!("in application.yaml:");
    println!("  token:");
    println!("    algorithm: {}", algorithm.as_str());
    println!("    current_key: {kid}");
    println!("    keys:");
    println!(
        "      {kid}: {{ pem_file: {}, algorithm: {} }}",
        private_path.display(),
        algorithm.as_str()
    );
    Ok(Outcome::Success)
}

fn check_kid(kid: &str) -> Result<(), CliError> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !kid.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(CliError::refused(format!(
            "`--kid {kid}`: use 1 to 64 letters, digits, `-`, `_` or `.` (not first), as it names the files"
        )))
    }
}

fn random_hex(n: usize) -> Result<String, CliError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| CliError::system(format!("no random bytes from the operating system: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A new key pair: the private key as PKCS#8 DER, the public key as
/// SubjectPublicKeyInfo DER.
fn generate(
    alg: KeyAlgorithm,
    bits: Option<&str>,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CliError> {
    let failed = |_| CliError::system("the key could not be generated");
    match alg {
        KeyAlgorithm::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(failed)?;
            let private = pair.to_pkcs8v1().map_err(failed)?;
            let public = pair.public_key().as_der().map_err(failed)?;
            Ok((
                Zeroizing::new(private.as_ref().to_vec()),
                public.as_ref().to_vec(),
            ))
        }
        KeyAlgorithm::Es256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
            let private = pair.to_pkcs8v1().map_err(failed)?;
            let public = pair.public_key().as_der().map_err(failed)?;
            Ok((
                Zeroizing::new(private.as_ref().to_vec()),
                public.as_ref().to_vec(),
            ))
        }
        KeyAlgorithm::Rs256 => {
            let size = match bits {
                None | Some("2048") => KeySize::Rsa2048,
                Some("3072") => KeySize::Rsa3072,
                Some(_) => KeySize::Rsa4096,
            };
            let pair = aws_lc_rs::rsa::KeyPair::generate(size).map_err(failed)?;
            let private = pair.as_der().map_err(failed)?;
            let public = pair.public_key().as_der().map_err(failed)?;
            Ok((
                Zeroizing::new(private.as_ref().to_vec()),
                public.as_ref().to_vec(),
            ))
        }
    }
}

/// PEM with 64-character lines (RFC 7468).
fn pem(label: &str, der: &[u8]) -> String {
    let body = Zeroizing::new(STANDARD.encode(der));
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Loads both PEMs as the configuration would, signs and verifies a token,
/// and returns the public JWK the token manager publishes for the key.
fn checked_jwk(
    algorithm: Algorithm,
    kid: &str,
    private_pem: &str,
    public_pem: &str,
) -> Result<String, CliError> {
    let broken = |what: &str, e: &dyn std::fmt::Display| {
        CliError::system(format!("the generated key does not {what}: {e}"))
    };
    let private = Key::from_pem(algorithm, private_pem).map_err(|e| broken("load", &e))?;
    let public = Key::from_pem(algorithm, public_pem).map_err(|e| broken("load", &e))?;
    let signer = JwtTokenManager::builder()
        .key(kid, private)
        .current_key(kid)
        .build()
        .map_err(|e| broken("build a token manager", &e))?;
    let token = signer
        .sign_access(&Principal::new("gen-keypair-self-test"))
        .map_err(|e| broken("sign", &e))?;
    let verifier = JwtTokenManager::builder()
        .key(kid, public)
        .build()
        .map_err(|e| broken("build a token manager", &e))?;
    verifier
        .verify_access(&token)
        .map_err(|e| broken("verify", &e))?;
    let jwk = signer
        .jwks()
        .find(kid)
        .cloned()
        .ok_or_else(|| CliError::system("the generated key has no public JWK"))?;
    serde_json::to_string_pretty(&jwk).map_err(|e| broken("serialize as a JWK", &e))
}

/// Writes a file that must not exist yet; `private` files get mode 0600 on
/// Unix from the start (never readable by others, not even briefly).
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let write_error = |e: std::io::Error| {
        CliError::system(format!("`{}` cannot be written: {e}", path.display()))
    };
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::refused(format!("`{}` already exists", path.display()))
        } else {
            write_error(e)
        }
    })?;
    file.write_all(bytes).map_err(write_error)?;
    #[cfg(unix)]
    if private {
        // The umask may have narrowed the mode further, never widened it;
        // set it exactly.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(write_error)?;
    }
    file.sync_all().map_err(write_error)
}
