//! A single-pass JSON scanner for the decoded JOSE header and claims.
//!
//! It reads exactly the grammar of RFC 8259 and makes the same decisions as
//! the serde_json visitors this crate used before (kept under `cfg(test)` in
//! `serde_ref` and compared against this scanner by a differential test):
//!
//! - the header and the claims are one JSON object each, with nothing but
//!   whitespace after it;
//! - a member given twice is an error, whatever its name (names are compared
//!   after their escapes are decoded, so `"\u0061lg"` is `alg`);
//! - nesting deeper than [`MAX_JSON_DEPTH`] is an error, also inside members
//!   that are skipped, counted in the same pass;
//! - strings that are read (member names of the top object, the claims and
//!   header members this crate keeps, and any string where a registered claim
//!   of another type is expected) must be UTF-8, without control characters,
//!   and every `\u` escape of a surrogate must be half of a pair. They are
//!   borrowed from the input unless they have escapes;
//! - values that are skipped are checked as serde_json's `IgnoredAny` checks
//!   them: the full grammar, control characters refused, escapes well formed,
//!   but the bytes of their strings are not decoded (neither UTF-8 nor
//!   surrogate pairing is checked there);
//! - a NumericDate is [`Lenient::Valid`] only for what serde_json reads as a
//!   `u64`: digits alone, no sign, fraction or exponent, at most `u64::MAX`.
//!   Where a registered claim is read (not skipped), a number that serde_json
//!   would make an infinite `f64` (`1e400`) is an error, as it was there.

use super::claims::{Claims, Header, Lenient, MAX_JSON_DEPTH, StrList, Strs, Text};
use crate::error::TokenError;

/// Parses a decoded JOSE header. `crit` is reported, not refused, here.
pub(crate) fn header(json: &[u8]) -> Result<Header<'_>, TokenError> {
    let mut scanner = Scanner::new(json);
    let header = scanner.header().map_err(|Bad| TokenError::Malformed)?;
    scanner.end().map_err(|Bad| TokenError::Malformed)?;
    Ok(header)
}

/// Parses a decoded claims set.
#[cfg(test)]
pub(crate) fn claims(json: &[u8]) -> Result<Claims<'_>, TokenError> {
    let mut claims = Claims::default();
    claims_into(json, &mut claims)?;
    Ok(claims)
}

/// Parses a decoded claims set into `out`, which must be empty
/// (`Claims::default()`); on an error `out` holds part of the claims.
///
/// The compact form (see [`Scanner::compact_claims`]) is read first; any
/// other input is read again from the start by the general scanner, into a
/// fresh `out`.
pub(crate) fn claims_into<'de>(json: &'de [u8], out: &mut Claims<'de>) -> Result<(), TokenError> {
    let text = simdutf8::basic::from_utf8(json).ok();
    // A scanner of its own, which never leaves this function (every method
    // of the fast path is inlined), so that its position can stay in a
    // register.
    let mut fast = Scanner {
        buf: json,
        text,
        pos: 0,
        depth: 0,
    };
    if fast.compact_claims(out).is_some() {
        return Ok(());
    }
    *out = Claims::default();
    let mut general = Scanner {
        buf: json,
        text,
        pos: 0,
        depth: 0,
    };
    general_claims_into(&mut general, out)
}

/// The general scanner alone on a claims set (every input).
fn general_claims_into<'de>(
    scanner: &mut Scanner<'de>,
    out: &mut Claims<'de>,
) -> Result<(), TokenError> {
    scanner.claims(out).map_err(|Bad| TokenError::Malformed)?;
    scanner.end().map_err(|Bad| TokenError::Malformed)
}

/// The general scanner alone, without the compact fast path (for the test
/// that holds the two together).
#[cfg(test)]
pub(crate) fn general_claims(json: &[u8]) -> Result<Claims<'_>, TokenError> {
    let mut claims = Claims::default();
    general_claims_into(&mut Scanner::new(json), &mut claims)?;
    Ok(claims)
}

/// The compact fast path alone: `None` where it declines the input.
#[cfg(test)]
pub(crate) fn compact_claims(json: &[u8]) -> Option<Claims<'_>> {
    let mut claims = Claims::default();
    Scanner::new(json).compact_claims(&mut claims)?;
    Some(claims)
}

/// The input is not acceptable (always reported as [`TokenError::Malformed`]).
#[derive(Debug, Clone, Copy)]
struct Bad;

type Scan<T> = Result<T, Bad>;

/// How many member names without a slot of their own are tracked without
/// allocating.
const INLINE_SEEN: usize = 8;

/// Member names of the top object that have no slot of their own; finds
/// duplicates.
struct Seen<'de> {
    len: usize,
    inline: [Text<'de>; INLINE_SEEN],
    spill: Vec<Text<'de>>,
}

impl<'de> Seen<'de> {
    fn new() -> Self {
        Self {
            len: 0,
            inline: [const { Text::Borrowed("") }; INLINE_SEEN],
            spill: Vec::new(),
        }
    }

    /// `false` when `key` was seen before.
    fn insert(&mut self, key: Text<'de>) -> bool {
        let name = key.as_str();
        let known = self
            .inline
            .iter()
            .take(self.len)
            .chain(self.spill.iter())
            .any(|k| k.as_str() == name);
        if known {
            return false;
        }
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = key,
            None => self.spill.push(key),
        }
        self.len += 1;
        true
    }
}

/// Fills `slot` with `value`, refusing a second value.
#[inline]
fn once<T>(slot: &mut Option<T>, value: Scan<T>) -> Scan<()> {
    if slot.is_some() {
        return Err(Bad);
    }
    *slot = Some(value?);
    Ok(())
}

/// An empty `slot` to fill in place, refusing a second value.
fn fresh<T>(slot: &mut Option<T>, empty: T) -> Scan<&mut T> {
    if slot.is_some() {
        return Err(Bad);
    }
    Ok(slot.insert(empty))
}

/// A value read where a registered claim of one type is expected but any
/// type is allowed.
enum Any<'de> {
    U64(u64),
    Str(Text<'de>),
    Other,
}

/// Which header member a name is.
enum HeaderMember {
    Alg,
    Kid,
    Typ,
    Crit,
    Other,
}

/// Which claim a name is. The order of the variants is the order in which
/// the compact fast path ([`Scanner::compact_claims`]) expects the claims
/// (that of `OutClaims`, the claims this crate signs).
enum Claim {
    Sub,
    Iss,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    Typ,
    Roles,
    Permissions,
    Scope,
    Tenant,
    Sid,
    AuthTime,
    Amr,
    Fam,
    Other,
}

impl Claim {
    fn of(name: &str) -> Self {
        match name {
            "sub" => Self::Sub,
            "iss" => Self::Iss,
            "aud" => Self::Aud,
            "exp" => Self::Exp,
            "nbf" => Self::Nbf,
            "iat" => Self::Iat,
            "jti" => Self::Jti,
            "typ" => Self::Typ,
            "roles" => Self::Roles,
            "permissions" => Self::Permissions,
            "scope" => Self::Scope,
            "tenant" => Self::Tenant,
            "sid" => Self::Sid,
            "auth_time" => Self::AuthTime,
            "amr" => Self::Amr,
            "fam" => Self::Fam,
            _ => Self::Other,
        }
    }
}

/// `10^e` for the exponents where `u64 as f64 * 10^e` can overflow
/// (`POW10_HIGH[i]` is `10^(289 + i)`); below 289 the product is finite.
const POW10_HIGH: [f64; 20] = [
    1e289, 1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, 1e300, 1e301,
    1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

/// Whether serde_json (without `float_roundtrip`) refuses the float it
/// builds as `significand * 10^exponent`: it multiplies by the exact power
/// of ten for a non-negative exponent up to 308 and refuses an infinite
/// product, refuses any larger exponent with a non-zero significand, and
/// never refuses a negative exponent (it divides).
fn float_out_of_range(significand: u64, exponent: i32) -> bool {
    if significand == 0 || exponent < 0 {
        return false;
    }
    match usize::try_from(exponent - 289) {
        // exponent < 289: at most 1.9e19 * 1e288, finite
        Err(_) => false,
        Ok(i) => match POW10_HIGH.get(i) {
            // Rounded to f64 first, as serde_json does.
            Some(pow) => (significand as f64 * pow).is_infinite(),
            None => true,
        },
    }
}

/// Whether `significand * 10 + digit` exceeds `u64::MAX` (serde_json's test).
fn u64_overflows(significand: u64, digit: u64) -> bool {
    significand >= u64::MAX / 10 && (significand > u64::MAX / 10 || digit > u64::MAX % 10)
}

/// Whether `exp * 10 + digit` exceeds `i32::MAX` (serde_json's test).
fn i32_overflows(exp: i32, digit: i32) -> bool {
    exp >= i32::MAX / 10 && (exp > i32::MAX / 10 || digit > i32::MAX % 10)
}

fn is_digit(b: Option<u8>) -> bool {
    matches!(b, Some(b'0'..=b'9'))
}

fn hex(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

/// Whether a byte ends the plain run of a string: `"`, `\` or a control
/// character.
fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// A string's UTF-8 check, as serde_json makes it.
fn utf8(bytes: &[u8]) -> Scan<&str> {
    std::str::from_utf8(bytes).map_err(|_| Bad)
}

struct Scanner<'de> {
    buf: &'de [u8],
    /// `buf` as text, when all of it is UTF-8 (nearly always): every string
    /// is then sliced from it without a check of its own.
    text: Option<&'de str>,
    pos: usize,
    depth: usize,
}

impl<'de> Scanner<'de> {
    fn new(buf: &'de [u8]) -> Self {
        Self {
            buf,
            text: std::str::from_utf8(buf).ok(),
            pos: 0,
            depth: 0,
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Skips whitespace; the next byte.
    fn ws(&mut self) -> Option<u8> {
        loop {
            match self.peek() {
                Some(b' ' | b'\n' | b'\t' | b'\r') => self.pos += 1,
                other => return other,
            }
        }
    }

    /// Nothing but whitespace may follow the value.
    fn end(&mut self) -> Scan<()> {
        match self.ws() {
            None => Ok(()),
            Some(_) => Err(Bad),
        }
    }

    /// One level deeper (after `{` or `[`).
    fn enter(&mut self) -> Scan<()> {
        self.depth += 1;
        if self.depth > MAX_JSON_DEPTH {
            return Err(Bad);
        }
        Ok(())
    }

    /// After `{`: whether a member follows (its name's `"` consumed).
    fn object_first(&mut self) -> Scan<bool> {
        match self.ws() {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            Some(b'"') => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(Bad),
        }
    }

    /// After a member's value: whether another member follows (its name's
    /// `"` consumed).
    fn object_next(&mut self) -> Scan<bool> {
        match self.ws() {
            Some(b',') => {
                self.pos += 1;
                match self.ws() {
                    Some(b'"') => {
                        self.pos += 1;
                        Ok(true)
                    }
                    _ => Err(Bad),
                }
            }
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(Bad),
        }
    }

    /// After a member name: the `:`.
    fn colon(&mut self) -> Scan<()> {
        match self.ws() {
            Some(b':') => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(Bad),
        }
    }

    /// After `[`: whether an element follows.
    fn array_first(&mut self) -> Scan<bool> {
        match self.ws() {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            Some(_) => Ok(true),
            None => Err(Bad),
        }
    }

    /// After an element: whether another element follows.
    fn array_next(&mut self) -> Scan<bool> {
        match self.ws() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(Bad),
        }
    }

    /// The top object: `{` (after optional whitespace).
    fn open_object(&mut self) -> Scan<bool> {
        match self.ws() {
            Some(b'{') => {
                self.pos += 1;
                self.enter()?;
                self.object_first()
            }
            _ => Err(Bad),
        }
    }

    fn header(&mut self) -> Scan<Header<'de>> {
        let mut header = Header::default();
        let mut typ = None;
        let mut crit = None;
        let mut seen = Seen::new();
        let mut more = self.open_object()?;
        while more {
            let key = self.string()?;
            self.colon()?;
            let member = match key.as_str() {
                "alg" => HeaderMember::Alg,
                "kid" => HeaderMember::Kid,
                "typ" => HeaderMember::Typ,
                "crit" => HeaderMember::Crit,
                _ => HeaderMember::Other,
            };
            match member {
                HeaderMember::Alg => once(&mut header.alg, self.text())?,
                HeaderMember::Kid => once(&mut header.kid, self.text())?,
                HeaderMember::Typ => once(&mut typ, self.skip_value())?,
                HeaderMember::Crit => once(&mut crit, self.skip_value())?,
                HeaderMember::Other => self.skip_member(&mut seen, key)?,
            }
            more = self.object_next()?;
        }
        header.crit = crit.is_some();
        Ok(header)
    }

    fn claims(&mut self, c: &mut Claims<'de>) -> Scan<()> {
        let mut seen = Seen::new();
        let mut more = self.open_object()?;
        while more {
            let (claim, key) = match self.quick_claim() {
                Some(claim) => (claim, None),
                None => {
                    let key = self.string()?;
                    (Claim::of(key.as_str()), Some(key))
                }
            };
            self.colon()?;
            match claim {
                Claim::Sub => self.text_into(&mut c.sub)?,
                Claim::Iss => once(&mut c.iss, self.lenient_text())?,
                Claim::Aud => self.str_list(fresh(&mut c.aud, StrList::Invalid)?)?,
                Claim::Exp => self.date_into(&mut c.exp)?,
                Claim::Nbf => self.date_into(&mut c.nbf)?,
                Claim::Iat => self.date_into(&mut c.iat)?,
                Claim::Jti => self.text_into(&mut c.jti)?,
                Claim::Typ => self.text_into(&mut c.typ)?,
                Claim::Roles => self.strs(fresh(&mut c.roles, Strs::EMPTY)?)?,
                Claim::Permissions => self.strs(fresh(&mut c.permissions, Strs::EMPTY)?)?,
                Claim::Scope => self.str_list(fresh(&mut c.scope, StrList::Invalid)?)?,
                Claim::Tenant => self.text_into(&mut c.tenant)?,
                Claim::Sid => self.text_into(&mut c.sid)?,
                Claim::AuthTime => self.date_into(&mut c.auth_time)?,
                Claim::Amr => self.strs(fresh(&mut c.amr, Strs::EMPTY)?)?,
                Claim::Fam => self.text_into(&mut c.fam)?,
                Claim::Other => self.skip_member(&mut seen, key.ok_or(Bad)?)?,
            }
            more = self.object_next()?;
        }
        Ok(())
    }

    /// The claims in the compact form this crate's signer writes (what
    /// serde_json writes for `OutClaims`), into `out` (empty); `None` for
    /// any other input, with `out` then holding part of the claims.
    ///
    /// The form: no whitespace anywhere; only claims this crate reads, each
    /// named without escapes and in the order of the [`Claim`] variants
    /// (each is looked for once, in that order, so none can come twice);
    /// strings without escapes; NumericDates as plain integers
    /// ([`plain_u64`](Self::plain_u64)); `aud` and `scope` a string or an
    /// array of strings, `roles`, `permissions` and `amr` an array of
    /// strings; nothing after the closing `}`.
    ///
    /// On such an input the general scanner ([`claims`](Self::claims), then
    /// [`end`](Self::end)) takes exactly the same steps (its whitespace
    /// skips find none, every slot is still empty when its claim comes, the
    /// depth never passes 2) and fills `out` with the same values; the test
    /// `compact_path_matches_the_general_scanner` holds the two together.
    ///
    /// The claims are tried as one straight sequence of tests of the next
    /// name (no dispatch on it), which a fixed token shape predicts well.
    #[inline(always)]
    fn compact_claims(&mut self, c: &mut Claims<'de>) -> Option<()> {
        if self.peek()? != b'{' {
            return None;
        }
        self.pos += 1;
        // Whether a member follows (its name not read yet).
        let mut more = true;
        if more && self.compact_name(b"\"sub\":") {
            c.sub = Some(Text::Borrowed(self.compact_str()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"iss\":") {
            c.iss = Some(Lenient::Valid(Text::Borrowed(self.compact_str()?)));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"aud\":") {
            self.compact_str_list(c.aud.insert(StrList::Invalid))?;
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"exp\":") {
            c.exp = Some(Lenient::Valid(self.plain_u64()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"nbf\":") {
            c.nbf = Some(Lenient::Valid(self.plain_u64()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"iat\":") {
            c.iat = Some(Lenient::Valid(self.plain_u64()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"jti\":") {
            c.jti = Some(Text::Borrowed(self.compact_str()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"typ\":") {
            c.typ = Some(Text::Borrowed(self.compact_str()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"roles\":") {
            self.compact_strs(c.roles.insert(Strs::EMPTY))?;
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"permissions\":") {
            self.compact_strs(c.permissions.insert(Strs::EMPTY))?;
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"scope\":") {
            self.compact_str_list(c.scope.insert(StrList::Invalid))?;
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"tenant\":") {
            c.tenant = Some(Text::Borrowed(self.compact_str()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"sid\":") {
            c.sid = Some(Text::Borrowed(self.compact_str()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"auth_time\":") {
            c.auth_time = Some(Lenient::Valid(self.plain_u64()?));
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"amr\":") {
            self.compact_strs(c.amr.insert(Strs::EMPTY))?;
            more = self.compact_next()?;
        }
        if more && self.compact_name(b"\"fam\":") {
            c.fam = Some(Text::Borrowed(self.compact_str()?));
            more = self.compact_next()?;
        }
        // A member left over: unknown, or out of order, or given twice.
        if more {
            return None;
        }
        (self.pos == self.buf.len()).then_some(())
    }

    /// Whether the member name `name` (with its quotes and the `:` after
    /// it) comes next; consumed if so.
    #[inline(always)]
    fn compact_name(&mut self, name: &[u8]) -> bool {
        let found = self
            .buf
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(name));
        if found {
            self.pos += name.len();
        }
        found
    }

    /// After a member's value: whether another member follows (`,`) or the
    /// object ends (`}`), consumed; `None` for anything else.
    #[inline(always)]
    fn compact_next(&mut self) -> Option<bool> {
        let more = match self.peek()? {
            b',' => true,
            b'}' => false,
            _ => return None,
        };
        self.pos += 1;
        Some(more)
    }

    /// A string without escapes, at its opening `"` (compact form).
    #[inline(always)]
    fn compact_str(&mut self) -> Option<&'de str> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let end = self.plain_run(start);
        if self.buf.get(end) != Some(&b'"') {
            return None;
        }
        let s = self.str_at(start, end).ok()?;
        self.pos = end + 1;
        Some(s)
    }

    /// An array of strings without escapes, into `strs` (compact form).
    #[inline(always)]
    fn compact_strs(&mut self, strs: &mut Strs<'de>) -> Option<()> {
        if self.peek()? != b'[' {
            return None;
        }
        self.pos += 1;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            strs.push(Text::Borrowed(self.compact_str()?));
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string or an array of strings, without escapes, into `out`
    /// (compact form).
    #[inline(always)]
    fn compact_str_list(&mut self, out: &mut StrList<'de>) -> Option<()> {
        match self.peek()? {
            b'"' => *out = StrList::One(Text::Borrowed(self.compact_str()?)),
            b'[' => {
                let mut strs = Strs::default();
                self.compact_strs(&mut strs)?;
                *out = StrList::Many(strs);
            }
            _ => return None,
        }
        Some(())
    }

    /// A claim name (after its opening `"`) spelled without escapes, read
    /// straight from the bytes with its closing `"` (consumed): what
    /// [`string`](Self::string) and [`Claim::of`] make of it, in one step.
    /// `None`, with nothing consumed, for any other name (never
    /// [`Claim::Other`]).
    #[inline(always)]
    fn quick_claim(&mut self) -> Option<Claim> {
        let rest = self.buf.get(self.pos..)?;
        let (claim, len) = match rest {
            [b's', b'u', b'b', b'"', ..] => (Claim::Sub, 4),
            [b'i', b's', b's', b'"', ..] => (Claim::Iss, 4),
            [b'a', b'u', b'd', b'"', ..] => (Claim::Aud, 4),
            [b'e', b'x', b'p', b'"', ..] => (Claim::Exp, 4),
            [b'n', b'b', b'f', b'"', ..] => (Claim::Nbf, 4),
            [b'i', b'a', b't', b'"', ..] => (Claim::Iat, 4),
            [b'j', b't', b'i', b'"', ..] => (Claim::Jti, 4),
            [b't', b'y', b'p', b'"', ..] => (Claim::Typ, 4),
            [b's', b'i', b'd', b'"', ..] => (Claim::Sid, 4),
            [b'a', b'm', b'r', b'"', ..] => (Claim::Amr, 4),
            [b'f', b'a', b'm', b'"', ..] => (Claim::Fam, 4),
            [b'r', b'o', b'l', b'e', b's', b'"', ..] => (Claim::Roles, 6),
            [b's', b'c', b'o', b'p', b'e', b'"', ..] => (Claim::Scope, 6),
            [b't', b'e', b'n', b'a', b'n', b't', b'"', ..] => (Claim::Tenant, 7),
            [
                b'a',
                b'u',
                b't',
                b'h',
                b'_',
                b't',
                b'i',
                b'm',
                b'e',
                b'"',
                ..,
            ] => (Claim::AuthTime, 10),
            [
                b'p',
                b'e',
                b'r',
                b'm',
                b'i',
                b's',
                b's',
                b'i',
                b'o',
                b'n',
                b's',
                b'"',
                ..,
            ] => (Claim::Permissions, 12),
            _ => return None,
        };
        self.pos += len;
        Some(claim)
    }

    /// An unknown member: its name must be new; its value is skipped.
    fn skip_member(&mut self, seen: &mut Seen<'de>, key: Text<'de>) -> Scan<()> {
        if !seen.insert(key) {
            return Err(Bad);
        }
        self.skip_value()
    }

    /// `once(slot, self.text())` in one step (the same outcome: a second
    /// value is an error either way), the borrowed string written straight
    /// into its slot.
    #[inline(always)]
    fn text_into(&mut self, slot: &mut Option<Text<'de>>) -> Scan<()> {
        if slot.is_some() || self.ws() != Some(b'"') {
            return Err(Bad);
        }
        self.pos += 1;
        let start = self.pos;
        let end = self.plain_run(start);
        if self.buf.get(end) == Some(&b'"') {
            *slot = Some(Text::Borrowed(self.str_at(start, end)?));
            self.pos = end + 1;
            return Ok(());
        }
        *slot = Some(self.string_escaped(start, end)?);
        Ok(())
    }

    /// `once(slot, self.date())` in one step (the same outcome).
    #[inline(always)]
    fn date_into(&mut self, slot: &mut Option<Lenient<u64>>) -> Scan<()> {
        if slot.is_some() {
            return Err(Bad);
        }
        *slot = Some(self.date()?);
        Ok(())
    }

    /// A string value (anything else is an error).
    #[inline(always)]
    fn text(&mut self) -> Scan<Text<'de>> {
        match self.ws() {
            Some(b'"') => {
                self.pos += 1;
                self.string()
            }
            _ => Err(Bad),
        }
    }

    /// An array of strings (anything else is an error), into `strs`.
    fn strs(&mut self, strs: &mut Strs<'de>) -> Scan<()> {
        match self.ws() {
            Some(b'[') => {
                self.pos += 1;
                self.enter()?;
            }
            _ => return Err(Bad),
        }
        let mut more = self.array_first()?;
        while more {
            strs.push(self.text()?);
            more = self.array_next()?;
        }
        Ok(())
    }

    /// A NumericDate, or a value of another type.
    #[inline(always)]
    fn date(&mut self) -> Scan<Lenient<u64>> {
        // The common plain integer without the general `any`.
        if self.ws().is_some_and(|b| b.is_ascii_digit())
            && let Some(v) = self.plain_u64()
        {
            return Ok(Lenient::Valid(v));
        }
        Ok(match self.any(false)? {
            Any::U64(v) => Lenient::Valid(v),
            Any::Str(_) | Any::Other => Lenient::Invalid,
        })
    }

    /// A string, or a value of another type.
    fn lenient_text(&mut self) -> Scan<Lenient<Text<'de>>> {
        Ok(match self.any(true)? {
            Any::Str(s) => Lenient::Valid(s),
            Any::U64(_) | Any::Other => Lenient::Invalid,
        })
    }

    /// A string, an array of strings, or a value of another type, into
    /// `out`.
    fn str_list(&mut self, out: &mut StrList<'de>) -> Scan<()> {
        if self.ws() != Some(b'[') {
            *out = match self.any(true)? {
                Any::Str(s) => StrList::One(s),
                Any::U64(_) | Any::Other => StrList::Invalid,
            };
            return Ok(());
        }
        self.pos += 1;
        self.enter()?;
        *out = StrList::Many(Strs::default());
        let mut more = self.array_first()?;
        while more {
            let valid = matches!(out, StrList::Many(_));
            match (self.any(valid)?, &mut *out) {
                (Any::Str(s), StrList::Many(items)) => items.push(s),
                (Any::Str(_), _) => {}
                (Any::U64(_) | Any::Other, _) => *out = StrList::Invalid,
            }
            more = self.array_next()?;
        }
        Ok(())
    }

    /// A value where a registered claim is read with any type allowed:
    /// strings are read (and kept when `keep`), numbers are classified (and
    /// refused when serde_json's float would overflow), arrays have their
    /// elements skipped, objects have their member names read and their
    /// values skipped.
    fn any(&mut self, keep: bool) -> Scan<Any<'de>> {
        match self.ws() {
            Some(b'"') => {
                self.pos += 1;
                if keep {
                    Ok(Any::Str(self.string()?))
                } else {
                    self.check_string()?;
                    Ok(Any::Other)
                }
            }
            Some(b'-' | b'0'..=b'9') => Ok(match self.number(true)? {
                Some(v) => Any::U64(v),
                None => Any::Other,
            }),
            Some(b'[') => {
                self.pos += 1;
                self.enter()?;
                let mut more = self.array_first()?;
                while more {
                    self.skip_value()?;
                    more = self.array_next()?;
                }
                Ok(Any::Other)
            }
            Some(b'{') => {
                self.pos += 1;
                self.enter()?;
                let mut more = self.object_first()?;
                while more {
                    self.check_string()?;
                    self.colon()?;
                    self.skip_value()?;
                    more = self.object_next()?;
                }
                Ok(Any::Other)
            }
            Some(_) => {
                self.literal()?;
                Ok(Any::Other)
            }
            None => Err(Bad),
        }
    }

    /// `null`, `true` or `false`.
    fn literal(&mut self) -> Scan<()> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let word: &[u8] = match rest.first() {
            Some(b'n') => b"null",
            Some(b't') => b"true",
            Some(b'f') => b"false",
            _ => return Err(Bad),
        };
        if rest.starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// Skips one value, checking it as serde_json's `IgnoredAny` does.
    fn skip_value(&mut self) -> Scan<()> {
        match self.ws() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string()
            }
            Some(b'-' | b'0'..=b'9') => self.number(false).map(|_| ()),
            Some(b'[') => {
                self.pos += 1;
                self.enter()?;
                let mut more = self.array_first()?;
                while more {
                    self.skip_value()?;
                    more = self.array_next()?;
                }
                Ok(())
            }
            Some(b'{') => {
                self.pos += 1;
                self.enter()?;
                let mut more = self.object_first()?;
                while more {
                    self.skip_string()?;
                    self.colon()?;
                    self.skip_value()?;
                    more = self.object_next()?;
                }
                Ok(())
            }
            Some(_) => self.literal(),
            None => Err(Bad),
        }
    }

    /// A number (at `-` or a digit). `Some` for what serde_json reads as a
    /// `u64` (only computed when `read`); when `read`, an error for a number
    /// serde_json would refuse as out of range.
    #[inline(always)]
    fn number(&mut self, read: bool) -> Scan<Option<u64>> {
        if read && let Some(v) = self.plain_u64() {
            return Ok(Some(v));
        }
        self.number_slow(read)
    }

    /// The common case of [`number`](Self::number) when read: at most 19
    /// digits (never more than `u64::MAX`), no leading zero, sign, fraction
    /// or exponent, read in one tight loop. `None`, with nothing consumed,
    /// for anything else.
    #[inline(always)]
    fn plain_u64(&mut self) -> Option<u64> {
        let rest = self.buf.get(self.pos..)?;
        let (&first, _) = rest.split_first()?;
        if !(b'1'..=b'9').contains(&first) {
            return None;
        }
        let mut v: u64 = 0;
        let mut len = 0;
        for &c in rest.iter().take(19) {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            v = v * 10 + u64::from(digit);
            len += 1;
        }
        // The number must end here: no 20th digit, `.`, `e` or `E`.
        match rest.get(len) {
            Some(b'0'..=b'9' | b'.' | b'e' | b'E') => None,
            _ => {
                self.pos += len;
                Some(v)
            }
        }
    }

    /// [`number`](Self::number) for every form of number.
    #[inline(never)]
    fn number_slow(&mut self, read: bool) -> Scan<Option<u64>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        // serde_json's significand and decimal exponent: digits are taken
        // until the significand would overflow; further integer digits
        // raise the exponent, further fraction digits are dropped.
        let mut significand: u64 = 0;
        let mut exponent: i32 = 0;
        let mut overflowed = false;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                    if !read {
                        continue;
                    }
                    let digit = u64::from(c - b'0');
                    if overflowed {
                        exponent += 1;
                    } else if u64_overflows(significand, digit) {
                        overflowed = true;
                        exponent += 1;
                    } else {
                        significand = significand * 10 + digit;
                    }
                }
            }
            _ => return Err(Bad),
        }
        let mut float = overflowed;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            float = true;
            if !is_digit(self.peek()) {
                return Err(Bad);
            }
            let mut dropping = false;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                self.pos += 1;
                if !read || dropping {
                    continue;
                }
                let digit = u64::from(c - b'0');
                if u64_overflows(significand, digit) {
                    dropping = true;
                } else {
                    significand = significand * 10 + digit;
                    exponent -= 1;
                }
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            float = true;
            let positive_exp = match self.peek() {
                Some(b'+') => {
                    self.pos += 1;
                    true
                }
                Some(b'-') => {
                    self.pos += 1;
                    false
                }
                _ => true,
            };
            if !is_digit(self.peek()) {
                return Err(Bad);
            }
            let mut exp: i32 = 0;
            let mut exp_overflowed = false;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                self.pos += 1;
                if !read || exp_overflowed {
                    continue;
                }
                let digit = i32::from(c - b'0');
                if i32_overflows(exp, digit) {
                    exp_overflowed = true;
                } else {
                    exp = exp * 10 + digit;
                }
            }
            if read {
                if exp_overflowed {
                    // serde_json: infinity is refused, zero is fine.
                    if significand != 0 && positive_exp {
                        return Err(Bad);
                    }
                    return Ok(None);
                }
                exponent = if positive_exp {
                    exponent.saturating_add(exp)
                } else {
                    exponent.saturating_sub(exp)
                };
            }
        }
        if !read {
            return Ok(None);
        }
        if float {
            if float_out_of_range(significand, exponent) {
                return Err(Bad);
            }
            return Ok(None);
        }
        // An integer that fits: a u64 unless negative (-0 included).
        Ok(if negative { None } else { Some(significand) })
    }

    /// The bytes `start..end` of a read string as UTF-8 text. `start` and
    /// `end` are next to ASCII bytes (a quote or an escape), so when all of
    /// `buf` is UTF-8 they are character boundaries and the slice is text.
    #[inline(always)]
    fn str_at(&self, start: usize, end: usize) -> Scan<&'de str> {
        match self.text {
            Some(text) => text.get(start..end).ok_or(Bad),
            None => utf8(self.buf.get(start..end).ok_or(Bad)?),
        }
    }

    /// The end of the plain run of a string starting at `from`: the first
    /// `"`, `\` or control character, or the end of the input.
    #[inline(always)]
    fn plain_run(&self, from: usize) -> usize {
        const ONES: u64 = u64::MAX / 255;
        const HIGH: u64 = ONES << 7;
        let mut i = from;
        // Eight bytes at a time: flags bytes below 0x20, `"` and `\` (the
        // lowest flagged byte is always a true match).
        let rest = self.buf.get(from..).unwrap_or_default();
        for chunk in rest.chunks_exact(8) {
            let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            let v = u64::from_le_bytes(bytes);
            let ctrl = v.wrapping_sub(ONES * 0x20) & !v;
            let q = v ^ (ONES * u64::from(b'"'));
            let quote = q.wrapping_sub(ONES) & !q;
            let b = v ^ (ONES * u64::from(b'\\'));
            let backslash = b.wrapping_sub(ONES) & !b;
            let found = (ctrl | quote | backslash) & HIGH;
            if found != 0 {
                return i + (found.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while let Some(&b) = self.buf.get(i) {
            if is_special(b) {
                break;
            }
            i += 1;
        }
        i
    }

    /// Four hex digits after `\u`.
    fn hex4(&mut self) -> Scan<u16> {
        let digits = self.buf.get(self.pos..self.pos + 4).ok_or(Bad)?;
        let mut n = 0u16;
        for &d in digits {
            n = (n << 4) | hex(d).ok_or(Bad)?;
        }
        self.pos += 4;
        Ok(n)
    }

    /// A read string (after its opening `"`): borrowed without escapes.
    ///
    /// Inlined, so that the common borrowed string reaches its slot in
    /// registers rather than through memory; a string with escapes takes
    /// the out-of-line [`string_escaped`](Self::string_escaped).
    #[inline(always)]
    fn string(&mut self) -> Scan<Text<'de>> {
        let start = self.pos;
        let end = self.plain_run(start);
        if self.buf.get(end) == Some(&b'"') {
            let s = self.str_at(start, end)?;
            self.pos = end + 1;
            return Ok(Text::Borrowed(s));
        }
        self.string_escaped(start, end)
    }

    /// [`string`](Self::string) when its first plain run `start..end` does
    /// not end with the closing `"`.
    #[inline(never)]
    fn string_escaped(&mut self, start: usize, end: usize) -> Scan<Text<'de>> {
        match self.buf.get(end) {
            Some(b'\\') => {
                let mut out = String::new();
                self.escaped(start, end, Some(&mut out))?;
                Ok(Text::Owned(out))
            }
            _ => Err(Bad),
        }
    }

    /// Checks a read string (after its opening `"`) without keeping it.
    fn check_string(&mut self) -> Scan<()> {
        let start = self.pos;
        let end = self.plain_run(start);
        match self.buf.get(end) {
            Some(b'"') => {
                self.str_at(start, end)?;
                self.pos = end + 1;
                Ok(())
            }
            Some(b'\\') => self.escaped(start, end, None),
            _ => Err(Bad),
        }
    }

    /// The rest of a read string whose first plain run is `start..end` and
    /// which has an escape at `end`, decoded into `out` when given.
    ///
    /// Each plain run is checked as UTF-8 on its own: escapes decode to
    /// whole characters, so no character can straddle a run and an escape.
    fn escaped(&mut self, start: usize, end: usize, mut out: Option<&mut String>) -> Scan<()> {
        let (mut start, mut end) = (start, end);
        loop {
            let run = self.str_at(start, end)?;
            if let Some(out) = out.as_deref_mut() {
                out.push_str(run);
            }
            self.pos = end + 1;
            match self.buf.get(end) {
                Some(b'"') => return Ok(()),
                Some(b'\\') => {}
                _ => return Err(Bad),
            }
            let c = self.escape()?;
            if let Some(out) = out.as_deref_mut() {
                out.push(c);
            }
            start = self.pos;
            end = self.plain_run(start);
        }
    }

    /// One escape of a read string (after its `\`).
    fn escape(&mut self) -> Scan<char> {
        let b = self.peek().ok_or(Bad)?;
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let n = self.hex4()?;
                let code = match n {
                    0xDC00..=0xDFFF => return Err(Bad),
                    0xD800..=0xDBFF => {
                        if self.buf.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(Bad);
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(Bad);
                        }
                        ((u32::from(n - 0xD800) << 10) | u32::from(low - 0xDC00)) + 0x1_0000
                    }
                    _ => u32::from(n),
                };
                char::from_u32(code).ok_or(Bad)?
            }
            _ => return Err(Bad),
        })
    }

    /// Skips a string (after its opening `"`) as `IgnoredAny` does: control
    /// characters and malformed escapes are refused, the bytes are not
    /// decoded.
    fn skip_string(&mut self) -> Scan<()> {
        loop {
            let end = self.plain_run(self.pos);
            self.pos = end + 1;
            match self.buf.get(end) {
                Some(b'"') => return Ok(()),
                Some(b'\\') => {}
                _ => return Err(Bad),
            }
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                Some(b'u') => {
                    self.pos += 1;
                    self.hex4()?;
                }
                _ => return Err(Bad),
            }
        }
    }
}
