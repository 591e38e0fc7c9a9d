//! `hash-password`, and reading a password from standard input.

use std::io::{BufRead as _, IsTerminal as _};

use zeroize::Zeroizing;

use crate::Global;
use crate::exit::{CliError, Outcome};
use crate::load;

/// The longest password line read, in bytes (well over any policy's
/// maximum, so a policy still reports a long one properly).
const MAX_LINE: u64 = 64 * 1024;

pub(crate) async fn hash_password(global: &Global) -> Result<Outcome, CliError> {
    let checked = load::checked(global)?;
    let hasher = checked.config.password_hasher()?;
    let password = read_password()?;
    let hash = hasher
        .hash(password.as_bytes())
        .await
        .map_err(|e| CliError::system(format!("the password could not be hashed: {e}")))?;
    println!("{hash}");
    Ok(Outcome::Success)
}

/// One line of standard input, without its line ending. Never an argument:
/// arguments show in the process list and stay in shell history.
///
/// From a terminal the password is read with echo off (the terminal shows
/// nothing as it is typed); piped in, the first line is read.
pub(crate) fn read_password() -> Result<Zeroizing<String>, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let line = rpassword::prompt_password("password: ")
            .map(Zeroizing::new)
            .map_err(|e| CliError::system(format!("the terminal could not be read: {e}")))?;
        if line.is_empty() {
            return Err(CliError::refused("no password given"));
        }
        return Ok(line);
    }
    let mut line = Zeroizing::new(String::new());
    let mut reader = std::io::Read::take(stdin.lock(), MAX_LINE);
    reader
        .read_line(&mut line)
        .map_err(|e| CliError::system(format!("standard input could not be read: {e}")))?;
    let trimmed_len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed_len);
    if line.is_empty() {
        return Err(CliError::refused(
            "no password on standard input (pipe it in: `printf %s \"$PASSWORD\" | lexigram-auth ...`)",
        ));
    }
    Ok(line)
}
