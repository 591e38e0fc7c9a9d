//! The serde_json visitors that parsed the header and the claims before the
//! hand-written scanner in `scan`, kept verbatim (test builds only) as the
//! reference the differential tests compare the scanner against.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::claims::{Claims, Header, Lenient, MAX_JSON_DEPTH, StrList, Strs, Text};
use crate::error::TokenError;

/// Refuses JSON nested deeper than [`MAX_JSON_DEPTH`]; the syntax itself is
/// left to the parser.
fn check_depth(json: &[u8]) -> Result<(), TokenError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(TokenError::Malformed);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a decoded header or payload: one JSON value of type `T`, nested at
/// most [`MAX_JSON_DEPTH`] deep.
pub(crate) fn parse_json<'de, T: Deserialize<'de>>(json: &'de [u8]) -> Result<T, TokenError> {
    check_depth(json)?;
    serde_json::from_slice(json).map_err(|_| TokenError::Malformed)
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text::Owned(v))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Keys seen so far that have no slot of their own; finds duplicates.
#[derive(Default)]
struct Seen<'de>(Vec<Text<'de>>);

impl<'de> Seen<'de> {
    /// `false` when `key` was seen before.
    fn insert(&mut self, key: Text<'de>) -> bool {
        if self.0.iter().any(|k| k.as_str() == key.as_str()) {
            return false;
        }
        self.0.push(key);
        true
    }
}

fn duplicate<E: de::Error>() -> E {
    E::custom("a member is given twice")
}

/// Fills `slot` from the map's next value, refusing a second value.
fn once<'de, A, T>(slot: &mut Option<T>, map: &mut A) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if slot.is_some() {
        return Err(duplicate());
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Skips the map's next value under an unknown `key`, refusing a duplicate.
fn skip<'de, A: MapAccess<'de>>(
    seen: &mut Seen<'de>,
    key: Text<'de>,
    map: &mut A,
) -> Result<(), A::Error> {
    if !seen.insert(key) {
        return Err(duplicate());
    }
    map.next_value::<IgnoredAny>()?;
    Ok(())
}

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = Header<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut header = Header::default();
                let mut typ: Option<IgnoredAny> = None;
                let mut crit: Option<IgnoredAny> = None;
                let mut seen = Seen::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.as_str() {
                        "alg" => once(&mut header.alg, &mut map)?,
                        "kid" => once(&mut header.kid, &mut map)?,
                        "typ" => once(&mut typ, &mut map)?,
                        "crit" => once(&mut crit, &mut map)?,
                        _ => skip(&mut seen, key, &mut map)?,
                    }
                }
                header.crit = crit.is_some();
                Ok(header)
            }
        }
        deserializer.deserialize_map(HeaderVisitor)
    }
}

/// Visitor methods that classify a JSON type as invalid (draining arrays and
/// objects so parsing goes on).
macro_rules! invalid_u64 {
    () => {
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::invalid())
        }
    };
}

macro_rules! invalid_str {
    () => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::invalid())
        }
    };
}

macro_rules! invalid_seq {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Self::Value::invalid())
        }
    };
}

macro_rules! invalid_rest {
    () => {
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Ok(Self::Value::invalid()),
            }
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::invalid())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::invalid())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::invalid())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Self::Value::invalid())
        }
    };
}

impl<T> Lenient<T> {
    fn invalid() -> Self {
        Self::Invalid
    }
}

/// A NumericDate: a non-negative integer number of seconds. Fractions,
/// strings and negative numbers are invalid.
impl<'de> Deserialize<'de> for Lenient<u64> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl<'de> Visitor<'de> for DateVisitor {
            type Value = Lenient<u64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient::Valid(v))
            }
            invalid_str!();
            invalid_seq!();
            invalid_rest!();
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

/// A string claim (`iss`) that may be of another type.
impl<'de> Deserialize<'de> for Lenient<Text<'de>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringVisitor;
        impl<'de> Visitor<'de> for StringVisitor {
            type Value = Lenient<Text<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Lenient::Valid(Text::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Lenient::Valid(Text::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Lenient::Valid(Text::Owned(v)))
            }
            invalid_u64!();
            invalid_seq!();
            invalid_rest!();
        }
        deserializer.deserialize_any(StringVisitor)
    }
}

/// An array of strings (`roles`, `permissions`); any other type is an error.
impl<'de> Deserialize<'de> for Strs<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor;
        impl<'de> Visitor<'de> for SeqVisitor {
            type Value = Strs<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut strs = Strs::default();
                while let Some(item) = seq.next_element::<Text<'de>>()? {
                    strs.push(item);
                }
                Ok(strs)
            }
        }
        deserializer.deserialize_seq(SeqVisitor)
    }
}

impl StrList<'_> {
    fn invalid() -> Self {
        Self::Invalid
    }
}

impl<'de> Deserialize<'de> for StrList<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = StrList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrList::One(Text::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrList::One(Text::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrList::One(Text::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Strs::default();
                let mut valid = true;
                while let Some(item) = seq.next_element::<Lenient<Text<'de>>>()? {
                    match item {
                        Lenient::Valid(s) if valid => items.push(s),
                        Lenient::Valid(_) => {}
                        Lenient::Invalid => valid = false,
                    }
                }
                Ok(if valid {
                    StrList::Many(items)
                } else {
                    StrList::Invalid
                })
            }
            invalid_u64!();
            invalid_rest!();
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

impl<'de> Deserialize<'de> for Claims<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor;
        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = Claims<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWT claims object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut c = Claims::default();
                let mut seen = Seen::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.as_str() {
                        "sub" => once(&mut c.sub, &mut map)?,
                        "iss" => once(&mut c.iss, &mut map)?,
                        "aud" => once(&mut c.aud, &mut map)?,
                        "exp" => once(&mut c.exp, &mut map)?,
                        "nbf" => once(&mut c.nbf, &mut map)?,
                        "iat" => once(&mut c.iat, &mut map)?,
                        "jti" => once(&mut c.jti, &mut map)?,
                        "typ" => once(&mut c.typ, &mut map)?,
                        "roles" => once(&mut c.roles, &mut map)?,
                        "permissions" => once(&mut c.permissions, &mut map)?,
                        "scope" => once(&mut c.scope, &mut map)?,
                        "tenant" => once(&mut c.tenant, &mut map)?,
                        "sid" => once(&mut c.sid, &mut map)?,
                        "auth_time" => once(&mut c.auth_time, &mut map)?,
                        "amr" => once(&mut c.amr, &mut map)?,
                        "fam" => once(&mut c.fam, &mut map)?,
                        _ => skip(&mut seen, key, &mut map)?,
                    }
                }
                Ok(c)
            }
        }
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

/// The differential tests: the scanner in `scan` against the serde_json
/// visitors above, on the unit-test inputs, hand-picked edge cases and
/// generated and mutated documents. Both must accept and refuse the same
/// inputs and produce the same values (compared through `Debug`, which also
/// tells borrowed from owned strings).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::scan;

    /// Which parser outcome, as text: `Err` or the `Debug` of the value.
    fn outcome<T: fmt::Debug>(r: Result<T, TokenError>) -> String {
        match r {
            Ok(v) => format!("Ok({v:?})"),
            Err(e) => format!("Err({e:?})"),
        }
    }

    /// Counts of inputs the two parsers accepted and refused (together).
    #[derive(Default, Debug)]
    struct Tally {
        ok: usize,
        err: usize,
        /// Inputs the compact fast path of the claims scanner read itself.
        compact: usize,
    }

    impl Tally {
        fn total(&self) -> usize {
            self.ok + self.err
        }
    }

    /// Compares both parsers on `json`, as a header and as claims.
    fn same(json: &[u8], tally: &mut Tally) {
        let old = outcome(parse_json::<Header<'_>>(json));
        let new = outcome(scan::header(json));
        assert_eq!(
            old,
            new,
            "header {:?}",
            String::from_utf8_lossy(json).into_owned()
        );
        let old = outcome(parse_json::<Claims<'_>>(json));
        let new = outcome(scan::claims(json));
        assert_eq!(
            old,
            new,
            "claims {:?} / {:x?}",
            String::from_utf8_lossy(json).into_owned(),
            json
        );
        // The general scanner alone, and the compact fast path alone where
        // it reads the input, give the same outcome.
        let general = outcome(scan::general_claims(json));
        assert_eq!(
            general,
            new,
            "general scanner, claims {:?}",
            String::from_utf8_lossy(json).into_owned()
        );
        if let Some(compact) = scan::compact_claims(json) {
            assert_eq!(
                format!("Ok({compact:?})"),
                general,
                "compact path, claims {:?}",
                String::from_utf8_lossy(json).into_owned()
            );
            tally.compact += 1;
        }
        if old.starts_with("Ok") {
            tally.ok += 1;
        } else {
            tally.err += 1;
        }
    }

    /// A small deterministic PRNG (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    /// Every input of the unit tests in `claims`.
    const UNIT_INPUTS: &[&str] = &[
        r#"{"alg":"HS256","typ":"JWT","kid":"k1","jku":"http://x","x5c":["a"]}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":null}"#,
        r#"{"alg":"HS256","kid":"a\u0000b"}"#,
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
        r#"{"sub":"a","exp":"1","nbf":1.5,"iat":-1,"iss":["x"],"aud":7,"scope":"a.b  c","other":{"x":[1,2]}}"#,
        r#"{"exp":0,"aud":["a","b"],"iss":"i"}"#,
        r#"{"aud":["a",1],"exp":1e3}"#,
        r#"{"exp":true,"iat":null,"nbf":{"a":1},"auth_time":[1]}"#,
        r#"{"exp":18446744073709551616}"#,
        r#"{"sub":"a","sub":"b"}"#,
        r#"{"exp":1,"exp":2}"#,
        r#"{"custom":1,"custom":2}"#,
        r#"{"roles":["a"],"roles":["admin"]}"#,
        r#"["sub","exp"]"#,
        "1",
        "null",
        r#"{"sub":null}"#,
        r#"{"roles":"admin"}"#,
    ];

    /// Hand-picked edge cases of the grammar and of the type rules.
    const EDGE_INPUTS: &[&str] = &[
        "",
        " ",
        "{",
        "}",
        "{}",
        " {} ",
        "\t{\r\n}\n",
        "{}\u{c}",
        "{} {}",
        "{},",
        r#"{"a"}"#,
        r#"{"a":}"#,
        r#"{"a":1,}"#,
        r#"{,"a":1}"#,
        r#"{"a" : 1 , "b" : [ 1 , 2 ] }"#,
        r#"{"a":[1,]}"#,
        r#"{"a":[,1]}"#,
        r#"{"a":[1 2]}"#,
        r#"{"a":{"b":1,}}"#,
        r#"{"a":{"b"}}"#,
        r#"{"a":{1:2}}"#,
        r#"{"a":nul}"#,
        r#"{"a":nulll}"#,
        r#"{"a":tru}"#,
        r#"{"a":True}"#,
        r#"{"a":falsey}"#,
        r#"{"a":undefined}"#,
        r#"{"a":NaN}"#,
        r#"{"a":Infinity}"#,
        r#"{"a":'x'}"#,
        r#"{'a':1}"#,
        r#"{a:1}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":"\u12"}"#,
        r#"{"a":"\u12G4"}"#,
        r#"{"a":"\uD800"}"#,
        r#"{"a":"\uDC00"}"#,
        r#"{"a":"\uD800\u0041"}"#,
        r#"{"a":"\uD83D\uDE00"}"#,
        r#"{"sub":"\uD83D\uDE00"}"#,
        r#"{"sub":"\uD800"}"#,
        r#"{"sub":"\uDC00"}"#,
        r#"{"sub":"\uD800\uD800"}"#,
        r#"{"sub":"\uD800\n"}"#,
        r#"{"sub":"\uD800x"}"#,
        r#"{"sub":"\ud83d\ude00 \u00e9\u0000\"\\\/\b\f\n\r\t"}"#,
        r#"{"sub":"é😀"}"#,
        r#"{"exp":"\uD800"}"#,
        r#"{"exp":{"\uD800":1}}"#,
        r#"{"exp":{"a":"\uD800"}}"#,
        r#"{"exp":["\uD800"]}"#,
        r#"{"aud":["\uD800"]}"#,
        r#"{"aud":[["\uD800"]]}"#,
        r#"{"aud":[{"\uD800":1}]}"#,
        r#"{"x":{"\uD800":"\uDC00"}}"#,
        r#"{"\uD800":1}"#,
        r#"{"s\u0075b":"a","sub":"b"}"#,
        r#"{"s\u0075b":"a"}"#,
        r#"{"\u0078":1,"x":2}"#,
        r#"{"x\u0000":1,"x":2}"#,
        r#"{"":1,"":2}"#,
        r#"{"":1}"#,
        r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"a":11}"#,
        r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11}"#,
        r#"{"exp":-0}"#,
        r#"{"exp":0}"#,
        r#"{"exp":00}"#,
        r#"{"exp":01}"#,
        r#"{"exp":-01}"#,
        r#"{"exp":1.0}"#,
        r#"{"exp":1.}"#,
        r#"{"exp":.1}"#,
        r#"{"exp":1e}"#,
        r#"{"exp":1e+}"#,
        r#"{"exp":1e-5}"#,
        r#"{"exp":1E5}"#,
        r#"{"exp":+1}"#,
        r#"{"exp":-}"#,
        r#"{"exp":--1}"#,
        r#"{"exp":18446744073709551615}"#,
        r#"{"exp":18446744073709551616}"#,
        r#"{"exp":-9223372036854775808}"#,
        r#"{"exp":-9223372036854775809}"#,
        r#"{"exp":-18446744073709551616}"#,
        r#"{"exp":1e308}"#,
        r#"{"exp":1e309}"#,
        r#"{"exp":0e999}"#,
        r#"{"exp":1e-999}"#,
        r#"{"exp":1e99999999999}"#,
        r#"{"exp":0e99999999999}"#,
        r#"{"exp":1e-99999999999}"#,
        r#"{"exp":-1e400}"#,
        r#"{"exp":1.7976931348623157e308}"#,
        r#"{"exp":1.7976931348623158e308}"#,
        r#"{"exp":1.7976931348623159e308}"#,
        r#"{"exp":17976931348623157e292}"#,
        r#"{"exp":17976931348623159e292}"#,
        r#"{"exp":184467440737095516159e288}"#,
        r#"{"exp":18446744073709551616.5e288}"#,
        r#"{"exp":0.00000000000000000000000000001e330}"#,
        r#"{"iss":1e400}"#,
        r#"{"aud":1e400}"#,
        r#"{"aud":[1e400]}"#,
        r#"{"aud":[[1e400]]}"#,
        r#"{"scope":1e400}"#,
        r#"{"exp":[1e400]}"#,
        r#"{"exp":{"a":1e400}}"#,
        r#"{"x":1e400}"#,
        r#"{"roles":[1e400]}"#,
        r#"{"sub":1e400}"#,
        r#"{"roles":[]}"#,
        r#"{"roles":["a","b","c","d","e","f"]}"#,
        r#"{"roles":["a",null]}"#,
        r#"{"roles":["a\u0041"]}"#,
        r#"{"permissions":["a"],"scope":["b","c"],"aud":"x"}"#,
        r#"{"aud":[]}"#,
        r#"{"aud":["a",1,"b"]}"#,
        r#"{"aud":["a","b","c","d","e"]}"#,
        r#"{"aud":["a\n","b"]}"#,
        r#"{"scope":"a b","tenant":"t","sid":"s","fam":"f","jti":"j","typ":"access","auth_time":5}"#,
        r#"{"tenant":1}"#,
        r#"{"sid":[]}"#,
        r#"{"fam":{}}"#,
        r#"{"jti":true}"#,
        r#"{"typ":false}"#,
        r#"{"alg":"HS256","typ":1,"kid":"k"}"#,
        r#"{"alg":"HS256","typ":"\uD800"}"#,
        r#"{"alg":"HS256","crit":"\uD800"}"#,
        r#"{"alg":"HS256","kid":null}"#,
        r#"{"alg":"HS256","kid":["k"]}"#,
        r#"{"alg":"HS256","crit":1e400}"#,
        r#"{"alg":"HS256","typ":1e400}"#,
        r#"{"a":"tab	inside"}"#,
        r#"{"exp":1}garbage"#,
        r#"{"exp":1}}"#,
        r#"{"exp":1]"#,
        r#"{"a":[}"#,
        r#"{"a":{]}"#,
        r#"{"a":"]}"}"#,
        r#"{"a":"\"}"}"#,
    ];

    #[test]
    fn scanner_matches_serde_on_unit_and_edge_inputs() {
        let mut tally = Tally::default();
        for json in UNIT_INPUTS.iter().chain(EDGE_INPUTS) {
            same(json.as_bytes(), &mut tally);
        }
        // Depth: the limit, one past it, inside strings and skipped members.
        for n in [30, 31, 32, 33, 40, 200] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let inner = format!("{}1{}", open.repeat(n), close.repeat(n));
                for json in [
                    format!("{{\"x\":{inner}}}"),
                    format!("{{\"exp\":{inner}}}"),
                    format!("{{\"aud\":{inner}}}"),
                    format!("{{\"aud\":[{inner}]}}"),
                    format!("{{\"iss\":{inner}}}"),
                    format!("{{\"roles\":{inner}}}"),
                    format!("{{\"alg\":\"HS256\",\"crit\":{inner}}}"),
                    format!("{{\"x\":\"{}\"}}", open.replace('"', "\\\"").repeat(n)),
                    format!("{}1{}", open.repeat(n), close.repeat(n)),
                ] {
                    same(json.as_bytes(), &mut tally);
                }
            }
        }
        // Bytes that are not UTF-8, in read and in skipped strings.
        for bad in [
            &b"\xff"[..],
            b"\xc3",
            b"\x80",
            b"\xc3\x28",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xc3\xa9",
            b"\x01",
            b"\x1f",
            b"\x7f",
        ] {
            for (pre, post) in [
                (&b"{\"sub\":\""[..], &b"\"}"[..]),
                (b"{\"x\":\"", b"\"}"),
                (b"{\"x\":[\"", b"\"]}"),
                (b"{\"x\":{\"", b"\":1}}"),
                (b"{\"", b"\":1}"),
                (b"{\"exp\":\"", b"\"}"),
                (b"{\"exp\":[\"", b"\"]}"),
                (b"{\"exp\":{\"", b"\":1}}"),
                (b"{\"aud\":[\"", b"\"]}"),
                (b"{\"sub\":\"a\\n", b"\"}"),
                (b"{\"sub\":\"", b"\\n\"}"),
                (b"{\"alg\":\"HS256\",\"typ\":\"", b"\"}"),
                (b"{\"x\":1}", b""),
                (b"", b"{\"x\":1}"),
            ] {
                let json = [pre, bad, post].concat();
                same(&json, &mut tally);
            }
        }
        // Every special byte at every offset of strings up to 40 bytes long
        // (the scanner looks for them eight bytes at a time).
        for len in 0..40 {
            for at in 0..=len {
                for special in [
                    &b"\""[..],
                    b"\\n",
                    b"\\u00e9",
                    b"\x01",
                    b"\x1f",
                    b"\xff",
                    b"\xc3\xa9",
                    b" ",
                    b"\x7f\x80",
                ] {
                    let mut body = vec![b'a'; len];
                    body.splice(at..at, special.iter().copied());
                    for (pre, post) in [
                        (&b"{\"sub\":\""[..], &b"\"}"[..]),
                        (b"{\"x\":\"", b"\"}"),
                        (b"{\"", b"\":1}"),
                    ] {
                        same(&[pre, &body, post].concat(), &mut tally);
                    }
                }
            }
        }
        assert!(tally.ok > 50 && tally.err > 50, "{tally:?}");
    }

    /// Numbers of every shape, as read claims and as skipped values.
    #[test]
    fn scanner_matches_serde_on_numbers() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut tally = Tally::default();
        let mut numbers: Vec<String> = [
            "0", "-0", "1", "-1", "0.0", "-0.0", "1e0", "1E+0", "1e-0", "0e0",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for _ in 0..3000 {
            let mut n = String::new();
            if rng.chance(30) {
                n.push('-');
            }
            match rng.below(4) {
                0 => n.push('0'),
                1 => n.push_str(&(rng.next() >> rng.below(64)).to_string()),
                2 => n.push_str(rng.pick::<&str>(&[
                    "18446744073709551615",
                    "18446744073709551616",
                    "1844674407370955161",
                    "9223372036854775808",
                    "9223372036854775807",
                    "17976931348623157",
                    "17976931348623159",
                    "99999999999999999999",
                ])),
                _ => {
                    n.push(char::from(b'1' + rng.below(9) as u8));
                    for _ in 0..rng.below(400) {
                        n.push(char::from(b'0' + rng.below(10) as u8));
                    }
                }
            }
            if rng.chance(40) {
                n.push('.');
                let max = if rng.chance(20) { 40 } else { 6 };
                for _ in 0..1 + rng.below(max) {
                    n.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            if rng.chance(50) {
                n.push(*rng.pick(&['e', 'E']));
                n.push_str(rng.pick::<&str>(&["", "+", "-"]));
                let exp: u64 = match rng.below(5) {
                    0 => rng.next() % 10,
                    1 => 280 + rng.next() % 40,
                    2 => rng.next() % 400,
                    3 => 2_147_483_640 + rng.next() % 20,
                    _ => rng.next(),
                };
                n.push_str(&exp.to_string());
            }
            numbers.push(n);
        }
        for n in &numbers {
            for json in [
                format!("{{\"exp\":{n}}}"),
                format!("{{\"iss\":{n}}}"),
                format!("{{\"aud\":{n}}}"),
                format!("{{\"aud\":[\"a\",{n}]}}"),
                format!("{{\"exp\":[{n}]}}"),
                format!("{{\"exp\":{{\"a\":{n}}}}}"),
                format!("{{\"x\":{n}}}"),
                format!("{{\"alg\":\"HS256\",\"typ\":{n}}}"),
            ] {
                same(json.as_bytes(), &mut tally);
            }
        }
        assert!(tally.total() >= 24_000, "{tally:?}");
        assert!(tally.ok > 1000 && tally.err > 1000, "{tally:?}");
    }

    /// The scanner's fast paths: claim names matched straight from the
    /// bytes (`quick_claim`) and plain integers read in one loop
    /// (`plain_u64`, also from `date`), each at and around its edges.
    #[test]
    fn scanner_fast_paths_match_serde() {
        let mut tally = Tally::default();
        let known = [
            "sub",
            "iss",
            "aud",
            "exp",
            "nbf",
            "iat",
            "jti",
            "typ",
            "roles",
            "permissions",
            "scope",
            "tenant",
            "sid",
            "auth_time",
            "amr",
            "fam",
        ];
        let mut names: Vec<String> = Vec::new();
        for name in known {
            names.push(name.to_owned());
            // near misses: shorter, longer, a trailing space, an escaped
            // quote after it, another last letter, the first or the last
            // letter escaped, upper case
            if let Some(short) = name.get(..name.len() - 1) {
                names.push(short.to_owned());
            }
            names.push(format!("{name}x"));
            names.push(format!("{name} "));
            names.push(format!("{name}\\\""));
            names.push(format!("{short}z", short = &name[..name.len() - 1]));
            names.push(format!(
                "\\u{:04x}{}",
                u32::from(name.as_bytes()[0]),
                &name[1..]
            ));
            names.push(format!(
                "{}\\u{:04x}",
                &name[..name.len() - 1],
                u32::from(name.as_bytes()[name.len() - 1])
            ));
            names.push(name.to_uppercase());
        }
        let values = [
            "\"v\"",
            "\"a\\u0062\"",
            "1",
            "[\"a\",\"b\"]",
            "[]",
            "[1]",
            "null",
            "{}",
            "1.5",
            "-1",
        ];
        for name in &names {
            for value in values {
                for json in [
                    format!("{{\"{name}\":{value}}}"),
                    format!("{{\"x\":0,\"{name}\":{value},\"y\":1}}"),
                    format!("{{\"{name}\":{value},\"{name}\":{value}}}"),
                    format!("{{\"{name}\" : {value} }}"),
                ] {
                    same(json.as_bytes(), &mut tally);
                }
            }
            // a name cut off right after it, and one running to the end
            same(format!("{{\"{name}\"").as_bytes(), &mut tally);
            same(format!("{{\"{name}").as_bytes(), &mut tally);
        }
        let mut integers: Vec<String> = ["0", "00", "01", "1", "9", "10", "-0", "-1"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for digits in 1..=22 {
            integers.push("9".repeat(digits));
            integers.push(format!("1{}", "0".repeat(digits - 1)));
            integers.push(format!("{}1", "1".repeat(digits - 1)));
        }
        for edge in [u64::MAX - 1, u64::MAX, 1_844_674_407_370_955_161] {
            integers.push(edge.to_string());
        }
        integers.push("18446744073709551616".to_owned());
        integers.push("18446744073709551620".to_owned());
        for n in &integers {
            for after in [
                "", " ", ".", ".5", ".0", "e1", "E1", "e", "e+", "0", "x", "-", "]", ",",
                ",\"x\":1",
            ] {
                for name in ["exp", "nbf", "iat", "auth_time", "iss", "aud", "other"] {
                    same(format!("{{\"{name}\":{n}{after}}}").as_bytes(), &mut tally);
                }
                same(
                    format!("{{\"aud\":[\"a\",{n}{after}]}}").as_bytes(),
                    &mut tally,
                );
                same(format!("{{\"exp\":{n}{after}").as_bytes(), &mut tally);
            }
        }
        assert!(tally.ok > 1000 && tally.err > 1000, "{tally:?}");
    }

    const HEADER_NAMES: &[&str] = &[
        "alg",
        "kid",
        "typ",
        "crit",
        "jku",
        "x5c",
        "\\u0061lg",
        "k\\u0069d",
    ];
    const CLAIM_NAMES: &[&str] = &[
        "sub",
        "iss",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "typ",
        "roles",
        "permissions",
        "scope",
        "tenant",
        "sid",
        "auth_time",
        "amr",
        "fam",
        "x",
        "other",
        "e\\u0078p",
        "\\u0073ub",
        "\\u0078",
    ];
    const STRING_PIECES: &[&str] = &[
        "a",
        "HS256",
        "user-123",
        " ",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b\\f\\n\\r\\t",
        "\\u0041",
        "\\u00e9",
        "\\uD83D\\uDE00",
        "\\ud800",
        "\\uDC00",
        "\\uD800\\u0041",
        "é",
        "😀",
        "{[",
        "]}",
        ",:",
    ];

    /// A generator of JSON-ish documents: mostly valid, with duplicate and
    /// escaped member names, every type where every claim is expected,
    /// deep nesting, odd numbers and odd strings.
    struct Gen {
        rng: Rng,
        out: Vec<u8>,
    }

    impl Gen {
        fn ws(&mut self) {
            if self.rng.chance(10) {
                let w = *self.rng.pick(&[&b" "[..], b"\t", b"\n", b"\r", b"  \n "]);
                self.out.extend_from_slice(w);
            }
        }

        fn string(&mut self) {
            self.out.push(b'"');
            for _ in 0..self.rng.below(4) {
                let p = *self.rng.pick(STRING_PIECES);
                self.out.extend_from_slice(p.as_bytes());
            }
            self.out.push(b'"');
        }

        fn number(&mut self) {
            let n = *self.rng.pick(&[
                "0",
                "-0",
                "7",
                "1700000000",
                "-5",
                "1.5",
                "1e3",
                "1e400",
                "-1e400",
                "1E-7",
                "18446744073709551615",
                "18446744073709551616",
                "0.000001",
                "123456789012345678901234567890",
            ]);
            self.out.extend_from_slice(n.as_bytes());
        }

        fn value(&mut self, depth: usize) {
            self.ws();
            let kind = if depth > 36 {
                self.rng.below(4)
            } else {
                self.rng.below(8)
            };
            match kind {
                0 => self.string(),
                1 => self.number(),
                2 => {
                    let lit = *self.rng.pick(&["null", "true", "false"]);
                    self.out.extend_from_slice(lit.as_bytes());
                }
                3 => self.string(),
                4 | 5 => {
                    self.out.push(b'[');
                    let n = if depth > 20 { 1 } else { self.rng.below(4) };
                    for i in 0..n {
                        if i > 0 {
                            self.out.push(b',');
                        }
                        self.value(depth + 1);
                    }
                    self.ws();
                    self.out.push(b']');
                }
                _ => {
                    self.out.push(b'{');
                    let n = if depth > 20 { 1 } else { self.rng.below(4) };
                    for i in 0..n {
                        if i > 0 {
                            self.out.push(b',');
                        }
                        self.ws();
                        if self.rng.chance(50) {
                            self.string();
                        } else {
                            let k = *self.rng.pick(CLAIM_NAMES);
                            self.out.push(b'"');
                            self.out.extend_from_slice(k.as_bytes());
                            self.out.push(b'"');
                        }
                        self.ws();
                        self.out.push(b':');
                        self.value(depth + 1);
                    }
                    self.ws();
                    self.out.push(b'}');
                }
            }
            self.ws();
        }

        /// A typical value for a member: mostly of the type it should have.
        fn member_value(&mut self, name: &str) {
            let deep = self.rng.chance(3);
            if deep {
                let start = 1 + self.rng.below(40);
                self.value(start);
                return;
            }
            match (name, self.rng.below(3)) {
                ("exp" | "nbf" | "iat" | "auth_time", 0 | 1) => self.number(),
                ("roles" | "permissions" | "amr" | "aud" | "scope" | "x5c", 0 | 1) => {
                    self.out.push(b'[');
                    for i in 0..self.rng.below(7) {
                        if i > 0 {
                            self.out.push(b',');
                        }
                        self.ws();
                        if self.rng.chance(90) {
                            self.string();
                        } else {
                            self.value(3);
                        }
                    }
                    self.out.push(b']');
                }
                (_, 0 | 1) => self.string(),
                _ => self.value(2),
            }
        }

        fn document(&mut self, names: &[&str]) -> Vec<u8> {
            self.out.clear();
            self.ws();
            self.out.push(b'{');
            let max = if self.rng.chance(10) { 14 } else { 6 };
            let n = self.rng.below(max);
            for i in 0..n {
                if i > 0 {
                    self.out.push(b',');
                }
                self.ws();
                let name = *self.rng.pick(names);
                self.out.push(b'"');
                self.out.extend_from_slice(name.as_bytes());
                self.out.push(b'"');
                self.ws();
                self.out.push(b':');
                self.ws();
                self.member_value(name);
                self.ws();
            }
            self.out.push(b'}');
            self.ws();
            std::mem::take(&mut self.out)
        }
    }

    /// One random change to `doc`.
    fn mutate(rng: &mut Rng, doc: &mut Vec<u8>) {
        if doc.is_empty() {
            doc.push(b'{');
            return;
        }
        let at = rng.below(doc.len());
        const BYTES: &[u8] = b"{}[]\",:\\u0-.eE+ \t\nnul\x00\x1f\x7f\x80\xc3\xa9\xed\xff";
        match rng.below(7) {
            0 => doc[at] ^= 1 << rng.below(8),
            1 => doc[at] = *rng.pick(BYTES),
            2 => doc.insert(at, *rng.pick(BYTES)),
            3 => {
                doc.remove(at);
            }
            4 => {
                // duplicate a slice (often a whole member)
                let end = (at + 1 + rng.below(24)).min(doc.len());
                let slice = doc[at..end].to_vec();
                let to = rng.below(doc.len());
                doc.splice(to..to, slice);
            }
            5 => doc.truncate(at),
            _ => {
                let piece = *rng.pick(STRING_PIECES);
                doc.splice(at..at, piece.bytes());
            }
        }
    }

    /// Generated documents, and mutations of them.
    #[test]
    fn scanner_matches_serde_on_generated_inputs() {
        let mut docs = Gen {
            rng: Rng(0xD1B5_4A32_D192_ED03),
            out: Vec::new(),
        };
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        let mut tally = Tally::default();
        let mut mutated = Tally::default();
        for round in 0..6000 {
            let names = if round % 3 == 0 {
                HEADER_NAMES
            } else {
                CLAIM_NAMES
            };
            let doc = docs.document(names);
            same(&doc, &mut tally);
            let mut m = doc;
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut m);
                same(&m, &mut mutated);
            }
        }
        // valid tokens of this crate's own shape, mutated
        let ours = [
            &br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#[..],
            br#"{"sub":"user-123","iss":"https://auth.example.com","aud":"api","exp":1700000900,"iat":1700000000,"jti":"0123456789abcdef0123456789abcdef","typ":"access","roles":["editor","viewer"],"permissions":["reports.read"],"tenant":"t1","sid":"s1"}"#,
            br#"{"sub":"alice","exp":1,"iat":0,"jti":"j","typ":"refresh","fam":"f"}"#,
        ];
        for round in 0..3000 {
            let mut m = ours[round % ours.len()].to_vec();
            for _ in 0..1 + rng.below(4) {
                mutate(&mut rng, &mut m);
            }
            same(&m, &mut mutated);
        }
        println!("generated {tally:?}, mutated {mutated:?}");
        assert!(
            tally.total() == 6000 && tally.ok > 1000 && tally.err > 500,
            "{tally:?}"
        );
        assert!(
            mutated.total() > 12_000 && mutated.ok > 500 && mutated.compact > 50,
            "{mutated:?}"
        );
    }

    /// Documents in (and near) the compact form the claims scanner reads on
    /// its fast path: the claims in the order of the fast path or out of it,
    /// given twice, with values of every type and edge values, whitespace,
    /// escapes, trailing bytes; then mutated. The fast path alone must give
    /// what the general scanner gives wherever it reads an input (checked in
    /// `same`), and serde_json must agree with both.
    #[test]
    fn compact_path_matches_the_general_scanner() {
        // In the order of the fast path.
        const ORDER: &[&str] = &[
            "sub",
            "iss",
            "aud",
            "exp",
            "nbf",
            "iat",
            "jti",
            "typ",
            "roles",
            "permissions",
            "scope",
            "tenant",
            "sid",
            "auth_time",
            "amr",
            "fam",
        ];
        const STRINGS: &[&str] = &[
            "\"\"",
            "\"a\"",
            "\"user-123\"",
            "\"0123456789abcdef0123456789abcdef\"",
            "\"\\u00e9\"",
            "\"\\ud800\"",
            "\"\\\"\"",
            "\"a\\nb\"",
            "\"\u{e9}\u{1F600}\"",
            "\"tab\tin\"",
        ];
        // The first CLEAN_NUMBERS are plain integers the fast path reads.
        const NUMBERS: &[&str] = &[
            "1",
            "7",
            "1700000000",
            "9999999999999999999",
            "18446744073709551615",
            "0",
            "01",
            "1700000000.0",
            "1e3",
            "-1",
            "10000000000000000000",
            "18446744073709551616",
            "1e400",
        ];
        const CLEAN_NUMBERS: usize = 5;
        const OTHER_VALUES: &[&str] = &["null", "true", "{}", "[1]", "{\"a\":1}"];
        const AFTER: &[&str] = &[" ", "\n", "x", "}", ",", "\u{0}"];
        // The first CLEAN_STRINGS have no escapes and are valid.
        const CLEAN_STRINGS: usize = 4;
        /// A value for `name`: when `clean`, always one the fast path reads.
        fn value(rng: &mut Rng, name: &str, clean: bool, out: &mut String) {
            let string = |rng: &mut Rng, out: &mut String| {
                let n = if clean { CLEAN_STRINGS } else { STRINGS.len() };
                out.push_str(STRINGS[rng.below(n)]);
            };
            let strings = |rng: &mut Rng, out: &mut String| {
                out.push('[');
                for i in 0..rng.below(7) {
                    if i > 0 {
                        out.push(',');
                    }
                    string(rng, out);
                }
                out.push(']');
            };
            let number = |rng: &mut Rng, out: &mut String| {
                let n = if clean { CLEAN_NUMBERS } else { NUMBERS.len() };
                out.push_str(NUMBERS[rng.below(n)]);
            };
            match (
                name,
                rng.below(if clean { 7 } else { 10 }) + usize::from(clean) * 3,
            ) {
                (_, 0) => out.push_str(OTHER_VALUES[rng.below(OTHER_VALUES.len())]),
                (_, 1) => number(rng, out),
                (_, 2) => string(rng, out),
                ("exp" | "nbf" | "iat" | "auth_time", _) => number(rng, out),
                ("roles" | "permissions" | "amr", _) => strings(rng, out),
                ("aud" | "scope", 3..=5) => strings(rng, out),
                _ => string(rng, out),
            }
        }
        let mut rng = Rng(0x5851_F42D_4C95_7F2D);
        let mut tally = Tally::default();
        let mut mutated = Tally::default();
        for _ in 0..6000 {
            let clean = rng.chance(50);
            let mut names: Vec<&str> = ORDER.iter().copied().filter(|_| rng.chance(40)).collect();
            match rng.below(if clean { 20 } else { 10 }) {
                0 => names.reverse(),
                1 if names.len() > 1 => {
                    let i = rng.below(names.len());
                    names.insert(i, names[rng.below(names.len())]);
                }
                2 => names.insert(rng.below(names.len() + 1), "x"),
                _ => {}
            }
            let mut doc = String::from("{");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    doc.push(',');
                }
                doc.push('"');
                doc.push_str(name);
                doc.push_str("\":");
                value(&mut rng, name, clean, &mut doc);
            }
            doc.push('}');
            if !clean && rng.chance(10) {
                doc.push_str(AFTER[rng.below(AFTER.len())]);
            }
            if !clean && rng.chance(10) {
                doc.insert(0, ' ');
            }
            same(doc.as_bytes(), &mut tally);
            let mut m = doc.into_bytes();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut m);
                same(&m, &mut mutated);
            }
        }
        println!("compact {tally:?}, mutated {mutated:?}");
        assert!(
            tally.total() == 6000 && tally.compact > 1500 && tally.ok > tally.compact + 300,
            "{tally:?}"
        );
        assert!(tally.err > 1000, "{tally:?}");
        assert!(mutated.compact > 400 && mutated.err > 3000, "{mutated:?}");
    }
}
