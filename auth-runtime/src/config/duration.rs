//! Durations in the configuration: `"15m"`, `"1h30m"`, `"7d"`, `"300s"`,
//! `"250ms"`, or a whole number of seconds (`300` or `"300"`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// The longest duration accepted: about 100 years, so that adding one to a
/// Unix time never overflows.
const MAX_SECS: u64 = 100 * 366 * 24 * 60 * 60;

/// Parses a duration: whole numbers each followed by a unit (`ms`, `s`, `m`,
/// `h`, `d`), concatenated (`1h30m`), or one whole number of seconds.
///
/// ```
/// use std::time::Duration;
/// use lexigram_auth::config::parse_duration;
///
/// assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
/// assert!(parse_duration("15 minutes").is_err());
/// ```
///
/// # Errors
/// A message in words for anything else (empty text, a fraction, an unknown
/// unit, more than about 100 years).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "`{}` is not a duration (write `300s`, `15m`, `1h30m`, `7d`, `250ms`, or whole seconds)",
            t.chars().take(40).collect::<String>()
        )
    };
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let secs = t.parse::<u64>().map_err(|_| bad())?;
        return check(Duration::from_secs(secs), t);
    }
    let mut total_ms: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (number, tail) = rest.split_at(digits);
        let number: u128 = number.parse().map_err(|_| bad())?;
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let per_unit_ms: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        total_ms = number
            .checked_mul(per_unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(bad)?;
        rest = tail;
    }
    let ms = u64::try_from(total_ms).map_err(|_| bad())?;
    check(Duration::from_millis(ms), t)
}

fn check(d: Duration, text: &str) -> Result<Duration, String> {
    if d.as_secs() > MAX_SECS {
        Err(format!("`{text}` is longer than 100 years"))
    } else {
        Ok(d)
    }
}

/// Writes a duration the way [`parse_duration`] reads it (`15m`, `7d`,
/// `1h30m`, `250ms`), for messages and docs.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&(ms / size).to_string());
            out.push_str(unit);
            ms %= size;
        }
    }
    out
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `15m`, `7d`, `300s`, or whole seconds")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        check(Duration::from_secs(v), &v.to_string()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        let secs = u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
        self.visit_u64(secs)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

/// `deserialize_with` for a duration key.
pub(super) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// `deserialize_with` for an optional duration key: `null` is `None`.
pub(super) fn option_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as `15m`, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            duration(d).map(Some)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            DurationVisitor.visit_u64(v).map(Some)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            DurationVisitor.visit_i64(v).map(Some)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            DurationVisitor.visit_str(v).map(Some)
        }
    }
    deserializer.deserialize_any(Opt)
}

/// `deserialize_with` for a key where `null` means something (present,
/// `null` is `Some(None)`; absent is the field's default).
pub(super) fn nullable_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    option_duration(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_seconds() {
        for (text, secs) in [
            ("0", 0),
            ("300", 300),
            ("300s", 300),
            ("15m", 900),
            ("1h30m", 5400),
            ("7d", 604_800),
            ("1d2h3m4s", 93_784),
            (" 30s ", 30),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in [
            "",
            "m",
            "1.5h",
            "15 m",
            "15min",
            "-5s",
            "5y",
            "h1",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("36600d").is_ok());
        assert!(parse_duration("36700d").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for secs in [0, 1, 59, 60, 900, 5400, 604_800, 93_784] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
    }
}
