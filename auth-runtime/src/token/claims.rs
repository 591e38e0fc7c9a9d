//! The compact serialization, the JOSE header and the claims, decoded strictly.
//!
//! - A token is exactly three segments of unpadded, canonical base64url
//!   (no `=`, no whitespace, no stray trailing bits): five segments (JWE),
//!   the JWS JSON serialization and anything else are malformed.
//! - The header and the payload must each be one JSON object (RFC 8259).
//!   Both are read by a hand-written single-pass scanner (`scan`) that
//!   rejects **any** member given twice (two `alg`s, two `exp`s, two of an
//!   unknown member alike), so no two parsers can disagree about which
//!   duplicate wins.
//! - A `crit` header member is refused whatever its value: this crate
//!   understands no extension. `jku`, `x5u`, `jwk`, `x5c` and every other
//!   member are skipped unread; nothing is ever fetched.
//! - Registered claims whose type is wrong (`exp` as a string, a float or a
//!   negative number; `aud` as a number; `iss` as an array) are kept as
//!   "invalid" so the manager can report which claim failed.
//!
//! JSON nested deeper than [`MAX_JSON_DEPTH`] is malformed, also inside
//! members that are skipped; the scanner counts the depth as it goes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64_simd::Out;
use serde::Serialize;
use std::mem::MaybeUninit;

use crate::error::TokenError;

/// The three segments of a compact JWS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact<'t> {
    pub(crate) header: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: &'t str,
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'t str,
}

/// Splits a compact JWS into its three segments.
pub(crate) fn split(token: &str) -> Result<Compact<'_>, TokenError> {
    // A `match` rather than `ok_or`: no error value is built (and dropped)
    // on the path that succeeds.
    match split_parts(token) {
        Some(parts) => Ok(parts),
        None => Err(TokenError::Malformed),
    }
}

/// [`split`] for a token whose header segment is `header` (checked here),
/// cut at its last dot: the header is not searched (a base64url segment has
/// no dots) and the signature is found from the end of the token, so the
/// cost does not grow with the payload. `None` when the token does not
/// start with `header` and a dot, or has no dot after it.
///
/// Unlike [`split`], the payload may hold more dots: the caller must refuse
/// such a token as [`split`] would ([`SegmentBuf::decode`] refuses a dot, and a
/// signature that fails over such a token is reported as `Malformed` by
/// checking with [`split`] again).
pub(crate) fn split_after<'t>(token: &'t str, header: &str) -> Option<Compact<'t>> {
    let bytes = token.as_bytes();
    let rest = bytes.strip_prefix(header.as_bytes())?.strip_prefix(b".")?;
    if header.is_empty() {
        return None;
    }
    let dot = memchr::memrchr(b'.', rest)?;
    let first = header.len();
    let second = first + 1 + dot;
    Some(Compact {
        header: token.get(..first)?,
        payload: token.get(first + 1..second)?,
        signature: token.get(second + 1..)?,
        signing_input: token.get(..second)?,
    })
}

/// [`split`], `None` for a malformed token.
fn split_parts(token: &str) -> Option<Compact<'_>> {
    // Exactly two dots.
    let (first, second) = two_dots(token.as_bytes())?;
    let header = token.get(..first)?;
    let payload = token.get(first + 1..second)?;
    let signature = token.get(second + 1..)?;
    // RFC 7515 allows an empty payload; our tokens never have one (the
    // claims must be a JSON object), which the claim decoding rejects.
    if header.is_empty() {
        return None;
    }
    let signing_input = token.get(..second)?;
    Some(Compact {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// The positions of the two dots of `bytes`; `None` unless it has exactly
/// two.
fn two_dots(bytes: &[u8]) -> Option<(usize, usize)> {
    exact_dots::<2>(bytes).map(|[first, second]| (first, second))
}

/// The positions of the `N` dots of `bytes`; `None` unless it has exactly
/// `N`. One pass, sixteen bytes at a time.
fn exact_dots<const N: usize>(bytes: &[u8]) -> Option<[usize; N]> {
    const ONES: u64 = u64::MAX / 255;
    const LOW7: u64 = ONES * 0x7F;
    let mut dots = [0usize; N];
    let mut count = 0usize;
    let mut note = |at: usize| -> Option<()> {
        *dots.get_mut(count)? = at;
        count += 1;
        Some(())
    };
    const HIGH: u64 = ONES << 7;
    // The high bit of exactly the zero bytes of `x` (no borrow from one
    // byte into the next, unlike the shorter test below).
    let zeros = |x: u64| !((((x & LOW7) + LOW7) | x) | LOW7);
    let mut pairs = bytes.chunks_exact(16);
    let mut base = 0usize;
    for pair in &mut pairs {
        let (a, b) = pair.split_at_checked(8)?;
        let a = u64::from_le_bytes(<[u8; 8]>::try_from(a).ok()?) ^ (ONES * u64::from(b'.'));
        let b = u64::from_le_bytes(<[u8; 8]>::try_from(b).ok()?) ^ (ONES * u64::from(b'.'));
        // Whether either word has a zero byte (a dot): the shorter test
        // may flag bytes above a true zero, but never a word without one.
        if ((a.wrapping_sub(ONES) & !a) | (b.wrapping_sub(ONES) & !b)) & HIGH != 0 {
            for (at, x) in [(base, a), (base + 8, b)] {
                let mut zero = zeros(x);
                while zero != 0 {
                    note(at + (zero.trailing_zeros() / 8) as usize)?;
                    zero &= zero - 1;
                }
            }
        }
        base += 16;
    }
    let mut chunks = pairs.remainder().chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?) ^ (ONES * u64::from(b'.'));
        let mut zero = zeros(x);
        while zero != 0 {
            note(base + (zero.trailing_zeros() / 8) as usize)?;
            zero &= zero - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == b'.' {
            note(base + i)?;
        }
    }
    (count == N).then_some(dots)
}

/// Room for a decoded segment: `N` bytes on the stack (left uninitialised
/// until the decoder writes them, so a large buffer costs nothing), and a
/// heap buffer only for a segment too long for them.
pub(crate) struct SegmentBuf<const N: usize> {
    inline: [MaybeUninit<u8>; N],
    heap: Vec<u8>,
}

/// Stack room for a decoded header.
pub(crate) const INLINE_HEADER: usize = 256;
/// Stack room for a decoded payload.
pub(crate) const INLINE_PAYLOAD: usize = 1024;
/// Stack room for a decoded signature (RSA-4096 and smaller).
pub(crate) const INLINE_SIGNATURE: usize = 512;

impl<const N: usize> SegmentBuf<N> {
    pub(crate) const fn new() -> Self {
        Self {
            inline: [const { MaybeUninit::uninit() }; N],
            heap: Vec::new(),
        }
    }

    /// Decodes unpadded canonical base64url (as [`decode_into`]).
    pub(crate) fn decode(&mut self, segment: &str) -> Result<&[u8], TokenError> {
        let need = decoded_len(segment.len()).ok_or(TokenError::Malformed)?;
        let out = if need <= N {
            self.inline.get_mut(..need).map(Out::from_uninit_slice)
        } else {
            self.heap.resize(need, 0);
            Some(Out::from_slice(&mut self.heap))
        };
        match out.and_then(|out| decode_out(segment.as_bytes(), out)) {
            Some(decoded) => Ok(decoded),
            None => Err(TokenError::Malformed),
        }
    }
}

/// A copy of `text` at the start of `buf`; `None` when it does not fit.
pub(crate) fn hold_in<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let copy = buf.get_mut(..text.len())?;
    copy.copy_from_slice(text.as_bytes());
    std::str::from_utf8(copy).ok()
}

/// The length of the bytes `len` base64url symbols (unpadded) decode to;
/// `None` for a length no canonical encoding has (`4n + 1`).
pub(crate) const fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        1 => None,
        0 => Some(len / 4 * 3),
        rem => Some(len / 4 * 3 + rem - 1),
    }
}

/// Decodes unpadded canonical base64url into `buf`: exactly what
/// `URL_SAFE_NO_PAD` of the `base64` crate (padding refused, trailing bits
/// refused) accepts, with the same bytes (the differential test
/// `base64_matches_the_crate` holds the two together). The work is done by
/// `base64-simd` (AVX2/SSE4.1/NEON chosen at run time, a table decoder
/// elsewhere). [`SegmentBuf::decode`] is the same decoder into a buffer of
/// its own.
#[cfg(test)]
pub(crate) fn decode_into<'b>(segment: &str, buf: &'b mut [u8]) -> Result<&'b [u8], TokenError> {
    let out = decoded_len(segment.len())
        .and_then(|n| buf.get_mut(..n))
        .map(Out::from_slice);
    // A `match` rather than `ok_or`: no error value is built (and dropped)
    // on the path that succeeds.
    match out.and_then(|out| decode_out(segment.as_bytes(), out)) {
        Some(decoded) => Ok(decoded),
        None => Err(TokenError::Malformed),
    }
}

/// Decodes `input` into `out`, which has exactly its decoded length.
#[inline]
fn decode_out<'b>(input: &[u8], out: Out<'b, [u8]>) -> Option<&'b [u8]> {
    match base64_simd::URL_SAFE_NO_PAD.decode(input, out) {
        Ok(decoded) => Some(decoded),
        Err(_) => None,
    }
}

/// The deepest nesting of arrays and objects accepted in a header or payload
/// (the claims object itself is depth 1).
pub(crate) const MAX_JSON_DEPTH: usize = 32;

/// Appends the base64url form of `value`'s JSON to `out`.
pub(crate) fn encode_json<T: Serialize>(value: &T, out: &mut String) -> Result<(), TokenError> {
    let json = serde_json::to_vec(value).map_err(|_| TokenError::Signing)?;
    URL_SAFE_NO_PAD.encode_string(json, out);
    Ok(())
}

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Self::Borrowed(s)
    }
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(s) => s,
            Self::Owned(s) => s,
        }
    }
}

/// The JOSE header members this crate reads.
#[derive(Debug, Default)]
pub(crate) struct Header<'de> {
    pub(crate) alg: Option<Text<'de>>,
    pub(crate) kid: Option<Text<'de>>,
    /// Whether a `crit` member is present (with any value).
    pub(crate) crit: bool,
}

/// A claim of the right type, or of another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lenient<T> {
    Valid(T),
    Invalid,
}

/// How many strings a [`Strs`] holds without allocating.
const INLINE_STRS: usize = 4;

/// A JSON array of strings, borrowed from the payload: the first
/// [`INLINE_STRS`] are kept inline, so ordinary `roles`, `permissions`, `aud`
/// and `scope` arrays cost no allocation (a string with escapes, or a longer
/// array, does allocate).
#[derive(Debug, Clone)]
pub(crate) struct Strs<'de> {
    len: usize,
    inline: [Text<'de>; INLINE_STRS],
    spill: Vec<Text<'de>>,
}

impl Default for Strs<'_> {
    fn default() -> Self {
        Strs::EMPTY
    }
}

impl<'de> Strs<'de> {
    /// No strings. A constant, so that filling a slot with it is one copy
    /// from read-only memory rather than stores of each field to a
    /// temporary that is then copied (twice) into the slot.
    pub(crate) const EMPTY: Strs<'static> = Strs {
        len: 0,
        inline: [const { Text::Borrowed("") }; INLINE_STRS],
        spill: Vec::new(),
    };

    #[inline]
    pub(crate) fn push(&mut self, text: Text<'de>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = text,
            None => self.spill.push(text),
        }
        self.len += 1;
    }

    /// The strings, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.inline
            .iter()
            .take(self.len)
            .chain(self.spill.iter())
            .map(Text::as_str)
    }

    /// The strings as owned `String`s.
    pub(crate) fn to_vec(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.len);
        out.extend(self.iter().map(str::to_owned));
        out
    }
}

impl PartialEq for Strs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Strs<'_> {}

impl<'de> From<Vec<Text<'de>>> for Strs<'de> {
    fn from(items: Vec<Text<'de>>) -> Self {
        let mut strs = Self::default();
        for item in items {
            strs.push(item);
        }
        strs
    }
}

/// A string or an array of strings (`aud`, `scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrList<'de> {
    One(Text<'de>),
    Many(Strs<'de>),
    Invalid,
}

/// The claims this crate reads, borrowed from the decoded payload where they
/// have no escapes; every other claim is skipped (but a claim given twice,
/// known or not, is an error).
#[derive(Debug, Default)]
pub(crate) struct Claims<'de> {
    pub(crate) sub: Option<Text<'de>>,
    pub(crate) iss: Option<Lenient<Text<'de>>>,
    pub(crate) aud: Option<StrList<'de>>,
    pub(crate) exp: Option<Lenient<u64>>,
    pub(crate) nbf: Option<Lenient<u64>>,
    pub(crate) iat: Option<Lenient<u64>>,
    pub(crate) jti: Option<Text<'de>>,
    pub(crate) typ: Option<Text<'de>>,
    pub(crate) roles: Option<Strs<'de>>,
    pub(crate) permissions: Option<Strs<'de>>,
    pub(crate) scope: Option<StrList<'de>>,
    pub(crate) tenant: Option<Text<'de>>,
    pub(crate) sid: Option<Text<'de>>,
    pub(crate) auth_time: Option<Lenient<u64>>,
    pub(crate) amr: Option<Strs<'de>>,
    pub(crate) fam: Option<Text<'de>>,
}

/// The header of the tokens this crate signs.
#[derive(Serialize)]
pub(crate) struct OutHeader<'a> {
    pub(crate) alg: &'static str,
    pub(crate) typ: &'static str,
    pub(crate) kid: &'a str,
}

/// The claims of the tokens this crate signs.
#[derive(Serialize)]
pub(crate) struct OutClaims<'a> {
    pub(crate) sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<&'a str>,
    pub(crate) exp: u64,
    pub(crate) iat: u64,
    pub(crate) jti: &'a str,
    pub(crate) typ: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(crate) roles: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(crate) permissions: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auth_time: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(crate) amr: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fam: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> Result<Header<'_>, TokenError> {
        super::super::scan::header(json.as_bytes())
    }

    fn claims(json: &str) -> Result<Claims<'_>, TokenError> {
        super::super::scan::claims(json.as_bytes())
    }

    /// `two_dots` against a plain search, at every position of every
    /// length up to 40, with neighbours of `.` in the other bytes.
    #[test]
    fn two_dots_matches_a_plain_search() {
        fn plain(bytes: &[u8]) -> Option<(usize, usize)> {
            let dots: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == b'.').collect();
            match dots.as_slice() {
                [a, b] => Some((*a, *b)),
                _ => None,
            }
        }
        fn plain_one(bytes: &[u8]) -> Option<[usize; 1]> {
            let dots: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == b'.').collect();
            match dots.as_slice() {
                [a] => Some([*a]),
                _ => None,
            }
        }
        let fill = [b'a', b'-', b'/', b'/', 0x2D, 0x2F, 0xAE, 0x00, b'.' ^ 0x80];
        for len in 0..=40usize {
            for f in fill {
                let base = vec![f; len];
                assert_eq!(two_dots(&base), plain(&base));
                assert_eq!(exact_dots::<1>(&base), plain_one(&base));
                for i in 0..len {
                    let mut one = base.clone();
                    one[i] = b'.';
                    assert_eq!(exact_dots::<1>(&one), plain_one(&one), "{one:?}");
                    for j in i..len {
                        let mut t = base.clone();
                        t[i] = b'.';
                        t[j] = b'.';
                        assert_eq!(two_dots(&t), plain(&t), "{t:?}");
                        assert_eq!(exact_dots::<1>(&t), plain_one(&t), "{t:?}");
                        for k in (0..len).step_by(5) {
                            let mut u = t.clone();
                            u[k] = b'.';
                            assert_eq!(two_dots(&u), plain(&u), "{u:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn splits_exactly_three_segments() {
        let c = split("aaa.bbb.ccc").unwrap();
        assert_eq!((c.header, c.payload, c.signature), ("aaa", "bbb", "ccc"));
        assert_eq!(c.signing_input, "aaa.bbb");
        assert_eq!(split("aaa.bbb.").unwrap().signature, "");
        assert_eq!(split("aaa..ccc").unwrap().payload, "");
        for bad in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
            ".b.c",
            "{\"payload\":\"x\"}",
        ] {
            assert_eq!(split(bad).unwrap_err(), TokenError::Malformed, "{bad}");
        }
    }

    /// `split_after` gives exactly `split`'s segments for a token with that
    /// header segment, and nothing for any other token, except where the
    /// payload it gives holds a dot (which the decoder refuses, see
    /// `verify_view`): every string of `a`, `b` and `.` up to 9 bytes long,
    /// against several headers.
    #[test]
    fn split_after_matches_split() {
        fn strings(len: usize) -> Vec<String> {
            if len == 0 {
                return vec![String::new()];
            }
            let mut out = Vec::new();
            for s in strings(len - 1) {
                for c in ['a', 'b', '.'] {
                    out.push(format!("{s}{c}"));
                }
            }
            out
        }
        let (mut hits, mut dotted) = (0, 0);
        for len in 0..=9 {
            for token in strings(len) {
                for header in ["", "a", "ab", "aa", "aba"] {
                    let fast = split_after(&token, header)
                        .map(|c| (c.header, c.payload, c.signature, c.signing_input));
                    let slow = split(&token)
                        .ok()
                        .filter(|c| c.header == header)
                        .map(|c| (c.header, c.payload, c.signature, c.signing_input));
                    if let Some((_, payload, signature, _)) = fast
                        && payload.contains('.')
                    {
                        // More than three segments: `split` refuses it, and
                        // so does the decoder of the payload.
                        assert_eq!(slow, None, "{token:?} after {header:?}");
                        assert!(!signature.contains('.'));
                        assert!(decode_into(payload, &mut [0u8; 16]).is_err());
                        dotted += 1;
                        continue;
                    }
                    assert_eq!(fast, slow, "{token:?} after {header:?}");
                    hits += usize::from(fast.is_some());
                }
            }
        }
        assert!(hits > 1000, "{hits}");
        assert!(dotted > 1000, "{dotted}");
    }

    #[test]
    fn base64_is_strict() {
        let mut buf = [0u8; 16];
        assert_eq!(decode_into("eyJ9", &mut buf).unwrap(), b"{\"}");
        // padding, whitespace, standard alphabet, non-canonical trailing bits
        for bad in ["eyJ9=", "eyJ9 ", "ey J9", "e+/9", "eyJ", "eR", "eyK"] {
            assert!(decode_into(bad, &mut buf).is_err(), "{bad}");
        }
        // "eQ" is canonical for 0x79; "eR" has trailing bits set
        assert_eq!(decode_into("eQ", &mut buf).unwrap(), b"y");
    }

    /// The hand-written decoder against the `base64` crate's
    /// `URL_SAFE_NO_PAD` engine (its default, canonical configuration: no
    /// padding, no trailing bits), which it replaced: the same inputs are
    /// accepted, with the same bytes.
    #[test]
    fn base64_matches_the_crate() {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut buf = [0u8; 512];
        let mut checked = 0usize;
        let mut accepted = 0usize;
        let mut same = |s: &str, buf: &mut [u8]| {
            let ours = decode_into(s, buf).map(<[u8]>::to_vec).ok();
            let theirs = URL_SAFE_NO_PAD.decode(s).ok();
            assert_eq!(ours, theirs, "{s:?}");
            assert_eq!(
                decoded_len(s.len()).is_some_and(|n| theirs.as_ref().is_some_and(|t| t.len() == n)),
                theirs.is_some(),
                "{s:?}"
            );
            checked += 1;
            accepted += usize::from(theirs.is_some());
        };
        for len in 0..=200usize {
            // Random strings of the alphabet (about a quarter of the lengths
            // 2 and 3 mod 4 have their trailing bits zero), the encodings of
            // random bytes (always canonical), and mutations of those.
            for _ in 0..8 {
                let s: String = (0..len)
                    .map(|_| char::from(ALPHABET[(next() % 64) as usize]))
                    .collect();
                same(&s, &mut buf);
            }
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let valid = URL_SAFE_NO_PAD.encode(&bytes);
            same(&valid, &mut buf);
            if valid.len() > 200 {
                continue;
            }
            // Every byte value at every position for the short ones (and
            // the last positions, where the trailing bits are, for all),
            // random positions and values for the longer ones.
            let positions: Vec<usize> = if valid.len() <= 48 {
                (0..valid.len()).collect()
            } else {
                let mut p: Vec<usize> = (0..16)
                    .map(|_| (next() % valid.len() as u64) as usize)
                    .collect();
                p.extend(valid.len().saturating_sub(3)..valid.len());
                p
            };
            for &at in &positions {
                for value in 0..=255u8 {
                    let mut s = String::with_capacity(valid.len() + 1);
                    for (i, c) in valid.chars().enumerate() {
                        s.push(if i == at { char::from(value) } else { c });
                    }
                    same(&s, &mut buf);
                }
            }
            // Padding, a dropped and an extra symbol, whitespace.
            for extra in ["=", "==", "A", "AA", " ", "\n", "."] {
                same(&format!("{valid}{extra}"), &mut buf);
                same(&format!("{extra}{valid}"), &mut buf);
            }
            if let Some(short) = valid.get(..valid.len().saturating_sub(1)) {
                same(short, &mut buf);
            }
        }
        assert!(checked > 500_000, "{checked}");
        assert!(accepted > 10_000, "{accepted}");
    }

    #[test]
    fn base64_refuses_a_short_buffer() {
        let mut buf = [0u8; 2];
        assert!(decode_into("eyJ9", &mut buf).is_err());
        assert_eq!(decoded_len(4), Some(3));
        assert_eq!(decoded_len(5), None);
        assert_eq!(decoded_len(6), Some(4));
        assert_eq!(decoded_len(7), Some(5));
    }

    #[test]
    fn header_reads_alg_kid_and_crit() {
        let h = header(r#"{"alg":"HS256","typ":"JWT","kid":"k1","jku":"http://x","x5c":["a"]}"#)
            .unwrap();
        assert_eq!(h.alg.unwrap().as_str(), "HS256");
        assert_eq!(h.kid.unwrap().as_str(), "k1");
        assert!(!h.crit);
        assert!(header(r#"{"alg":"HS256","crit":[]}"#).unwrap().crit);
        assert!(header(r#"{"alg":"HS256","crit":null}"#).unwrap().crit);
        let escaped = header(r#"{"alg":"HS256","kid":"a\u0000b"}"#).unwrap();
        assert_eq!(escaped.kid.unwrap().as_str(), "a\0b");
    }

    #[test]
    fn header_duplicates_and_non_objects_are_errors() {
        for bad in [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
            r#"{"alg":"HS256","x":1,"x":2}"#,
            r#"{"alg":"HS256","crit":["b64"],"crit":[]}"#,
            r#"["HS256"]"#,
            r#""HS256""#,
            r#"{"alg":1}"#,
            r#"{"alg":"HS256"} x"#,
        ] {
            assert!(header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claims_classify_wrong_types() {
        let c = claims(
            r#"{"sub":"a","exp":"1","nbf":1.5,"iat":-1,"iss":["x"],"aud":7,"scope":"a.b  c","other":{"x":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(c.exp, Some(Lenient::Invalid));
        assert_eq!(c.nbf, Some(Lenient::Invalid));
        assert_eq!(c.iat, Some(Lenient::Invalid));
        assert_eq!(c.iss, Some(Lenient::Invalid));
        assert_eq!(c.aud, Some(StrList::Invalid));
        assert_eq!(c.scope, Some(StrList::One("a.b  c".into())));
        let c = claims(r#"{"exp":0,"aud":["a","b"],"iss":"i"}"#).unwrap();
        assert_eq!(c.exp, Some(Lenient::Valid(0)));
        assert_eq!(
            c.aud,
            Some(StrList::Many(vec!["a".into(), "b".into()].into()))
        );
        assert_eq!(c.iss, Some(Lenient::Valid("i".into())));
        let c = claims(r#"{"aud":["a",1],"exp":1e3}"#).unwrap();
        assert_eq!(c.aud, Some(StrList::Invalid));
        assert_eq!(c.exp, Some(Lenient::Invalid));
        let c = claims(r#"{"exp":true,"iat":null,"nbf":{"a":1},"auth_time":[1]}"#).unwrap();
        assert_eq!(c.exp, Some(Lenient::Invalid));
        assert_eq!(c.iat, Some(Lenient::Invalid));
        assert_eq!(c.nbf, Some(Lenient::Invalid));
        assert_eq!(c.auth_time, Some(Lenient::Invalid));
        assert_eq!(
            claims(r#"{"exp":18446744073709551616}"#).unwrap().exp,
            Some(Lenient::Invalid)
        );
    }

    #[test]
    fn claims_duplicates_non_objects_and_depth_are_errors() {
        let deep = format!("{{\"x\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        for bad in [
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"custom":1,"custom":2}"#,
            r#"{"roles":["a"],"roles":["admin"]}"#,
            r#"["sub","exp"]"#,
            "1",
            "null",
            r#"{"sub":null}"#,
            r#"{"roles":"admin"}"#,
            r#"{"amr":"pwd"}"#,
            r#"{"amr":["pwd"],"amr":["otp"]}"#,
            deep.as_str(),
        ] {
            assert!(claims(bad).is_err(), "{bad}");
        }
        let shallow = format!("{{\"x\":{}1{}}}", "[".repeat(31), "]".repeat(31));
        assert!(claims(&shallow).is_ok());
        // brackets inside strings do not count
        let quoted = format!("{{\"x\":\"{}\\\"{}\"}}", "[".repeat(100), "{".repeat(100));
        assert!(claims(&quoted).is_ok(), "{quoted}");
        assert!(
            header(&format!(
                "{{\"alg\":{}1{}}}",
                "[".repeat(40),
                "]".repeat(40)
            ))
            .is_err()
        );
    }
}
