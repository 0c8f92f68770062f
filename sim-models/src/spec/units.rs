//! Quantities with units, written as strings in scenario files.
//!
//! | type | written as | stored as |
//! |---|---|---|
//! | [`Duration`] | `250ms`, `5m`, `1.5h`, `30d`, `10us` (or the bare number `0`) | seconds (`f64`) |
//! | [`Rate`] | `200/s`, `10/m`, `3/h`, `50/d`, `5/ms` | events per second (`f64`) |
//! | [`Size`] | `100B`, `64KiB`, `512MiB`, `8GiB`, `1TiB` (also `kB`, `MB`, `GB`, `TB`) | bytes (`u64`) |
//! | [`Bandwidth`] | `1bit/s`, `10kbit/s`, `100Mbit/s`, `1Gbit/s` (also `Mbps` ...) | bits per second (`f64`) |
//!
//! Each parses with [`FromStr`] and serializes back to a canonical string
//! that parses to exactly the same value.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Duration units and their length in seconds, largest first.
const DURATION_UNITS: [(&str, f64); 6] = [
    ("d", 86_400.0),
    ("h", 3_600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 1e-3),
    ("us", 1e-6),
];

/// Rate units (the part after `/`) and their length in seconds.
const RATE_UNITS: [(&str, f64); 6] = [
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3_600.0),
    ("d", 86_400.0),
    ("ms", 1e-3),
    ("us", 1e-6),
];

/// Size units and their size in bytes (binary units first: they are canonical).
const SIZE_UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("kB", 1_000),
];

/// Bandwidth units and their value in bits per second, largest first.
const BANDWIDTH_UNITS: [(&str, f64); 5] = [
    ("Tbit/s", 1e12),
    ("Gbit/s", 1e9),
    ("Mbit/s", 1e6),
    ("kbit/s", 1e3),
    ("bit/s", 1.0),
];

const DURATION_HINT: &str = "expected a duration like `250ms` or `5m` (units: us, ms, s, m, h, d)";
const RATE_HINT: &str = "expected a rate like `200/s` or `50/d` (units: /us, /ms, /s, /m, /h, /d)";
const SIZE_HINT: &str =
    "expected a size like `512MiB` or `8GiB` (units: B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)";
const BANDWIDTH_HINT: &str = "expected a bandwidth like `100Mbit/s` or `1Gbit/s` (units: bit/s, kbit/s, Mbit/s, Gbit/s, Tbit/s)";

/// Splits `"1.5 ms"` into (`1.5`, `"ms"`): the number is the longest prefix of
/// digits, `.`, `+`, `-`, `e`-free. Returns `None` when there is no valid
/// non-negative finite number.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '+' || *c == '_'))
        .map_or(s.len(), |(i, _)| i);
    let (num, unit) = s.split_at(end);
    let num: String = num.chars().filter(|c| *c != '_').collect();
    if num.is_empty() || num.starts_with('.') && num.len() == 1 {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some((v, unit.trim()))
}

fn bad(hint: &str, got: &str) -> String {
    format!("{hint}, got `{got}`")
}

/// Picks the candidate that parses back to exactly `target`, preferring
/// whole numbers, then the shortest, then the earliest (largest unit).
fn shortest<T: PartialEq + Copy>(
    candidates: impl Iterator<Item = String>,
    parse: impl Fn(&str) -> Option<T>,
    target: T,
) -> Option<String> {
    candidates
        .filter(|c| parse(c) == Some(target))
        .min_by_key(|c| (c.contains('.'), c.len()))
}

// ---------------------------------------------------------------------------
// Duration
// ---------------------------------------------------------------------------

/// A length of time, in seconds.
///
/// Written as a number and a unit: `us`, `ms`, `s`, `m`, `h`, `d`
/// (`250ms`, `5m`, `1.5h`, `30d`). The bare number `0` is accepted too.
/// Negative, infinite or unit-less values are rejected.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Duration(pub f64);

impl Duration {
    /// Zero seconds.
    pub const ZERO: Duration = Duration(0.0);

    /// The longest duration a scenario may write: the simulation counts
    /// time in nanoseconds in 64 bits, which reaches 18,446,744,073.7 s
    /// (213,503 days, about 584 years). Longer durations are an error, not
    /// silently shortened.
    pub const MAX_SECS: f64 = 18_446_744_073.0;

    /// The length in seconds.
    pub fn secs(&self) -> f64 {
        self.0
    }

    /// A duration of `secs` seconds.
    pub fn from_secs(secs: f64) -> Self {
        Duration(secs)
    }

    /// The length in nanoseconds, rounded to the nearest integer (saturating).
    pub fn nanos(&self) -> u64 {
        let n = (self.0 * 1e9).round();
        if n.is_nan() || n <= 0.0 {
            0
        } else if n >= u64::MAX as f64 {
            u64::MAX
        } else {
            n as u64
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.starts_with('-') {
        return Err(format!("a duration cannot be negative, got `{s}`"));
    }
    let Some((v, unit)) = split_number(t) else {
        return Err(bad(DURATION_HINT, s));
    };
    let unit = if unit == "µs" { "us" } else { unit };
    if unit.is_empty() {
        return Err(format!(
            "{}, got `{s}` (the unit is missing)",
            DURATION_HINT
        ));
    }
    match DURATION_UNITS.iter().find(|(u, _)| *u == unit) {
        Some((_, f)) => {
            let secs = v * f;
            if !secs.is_finite() {
                Err(bad(DURATION_HINT, s))
            } else if secs > Duration::MAX_SECS {
                Err(format!(
                    "`{s}` is longer than the longest duration Preflight represents, 213503d \
                     (about 584 years: time is counted in nanoseconds in 64 bits)"
                ))
            } else {
                Ok(Duration(secs))
            }
        }
        None => Err(bad(DURATION_HINT, s)),
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0.0 {
            return f.write_str("0s");
        }
        let cands = DURATION_UNITS
            .iter()
            .map(|(u, k)| format!("{}{u}", self.0 / k));
        match shortest(cands, |c| parse_duration(c).ok(), *self) {
            Some(s) => f.write_str(&s),
            None => write!(f, "{}s", self.0),
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like `250ms` or `5m`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        if v == 0 {
            Ok(Duration::ZERO)
        } else {
            Err(E::custom(format!(
                "{DURATION_HINT}, got the bare number `{v}` (add a unit, e.g. `{v}s`)"
            )))
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        if v < 0 {
            Err(E::custom(format!(
                "a duration cannot be negative, got `{v}`"
            )))
        } else {
            self.visit_u64(v.unsigned_abs())
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if v == 0.0 {
            Ok(Duration::ZERO)
        } else {
            Err(E::custom(format!(
                "{DURATION_HINT}, got the bare number `{v}` (add a unit, e.g. `{v}s`)"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a number and a unit (us, ms, s, m, h, d), e.g. `250ms`, `5m`, `30d`; or the number 0.",
            "anyOf": [
                { "type": "string", "pattern": r"^\s*[0-9][0-9_]*(\.[0-9_]*)?\s*(us|µs|ms|s|m|h|d)\s*$" },
                { "type": "string", "pattern": r"^\s*0\s*$" },
                { "const": 0 }
            ]
        })
    }
}

// ---------------------------------------------------------------------------
// Rate
// ---------------------------------------------------------------------------

/// A rate of events, in events per second.
///
/// Written as a number, `/` and a time unit: `200/s`, `10/m`, `3/h`, `50/d`,
/// `5/ms`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(pub f64);

impl Rate {
    /// Events per second.
    pub fn per_sec(&self) -> f64 {
        self.0
    }
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("a rate cannot be negative, got `{s}`"));
    }
    let Some((num, unit)) = t.split_once('/') else {
        return Err(bad(RATE_HINT, s));
    };
    let Some((v, rest)) = split_number(num.trim()) else {
        return Err(bad(RATE_HINT, s));
    };
    if !rest.is_empty() {
        return Err(bad(RATE_HINT, s));
    }
    let unit = unit.trim();
    let unit = if unit == "µs" { "us" } else { unit };
    match RATE_UNITS.iter().find(|(u, _)| *u == unit) {
        Some((_, k)) => {
            let r = v / k;
            if r.is_finite() {
                Ok(Rate(r))
            } else {
                Err(bad(RATE_HINT, s))
            }
        }
        None => Err(bad(RATE_HINT, s)),
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rate(s)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cands = RATE_UNITS
            .iter()
            .map(|(u, k)| format!("{}/{u}", self.0 * k));
        match shortest(cands, |c| parse_rate(c).ok(), *self) {
            Some(s) => f.write_str(&s),
            None => write!(f, "{}/s", self.0),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct RateVisitor;

impl Visitor<'_> for RateVisitor {
    type Value = Rate;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rate like `200/s` or `50/d`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
        parse_rate(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
        Err(E::custom(format!(
            "{RATE_HINT}, got the bare number `{v}` (add a unit, e.g. `{v}/s`)"
        )))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
        Err(E::custom(bad(RATE_HINT, &v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
        Err(E::custom(format!(
            "{RATE_HINT}, got the bare number `{v}` (add a unit, e.g. `{v}/s`)"
        )))
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RateVisitor)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A rate: a number, `/` and a time unit (us, ms, s, m, h, d), e.g. `200/s`, `50/d`.",
            "type": "string",
            "pattern": r"^\s*[0-9][0-9_]*(\.[0-9_]*)?\s*/\s*(us|µs|ms|s|m|h|d)\s*$"
        })
    }
}

// ---------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------

/// A size in bytes.
///
/// Written as a number and a unit: `B`, `KiB`, `MiB`, `GiB`, `TiB` (powers of
/// 1024) or `kB`, `MB`, `GB`, `TB` (powers of 1000): `100B`, `8GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    /// The size in bytes.
    pub fn bytes(&self) -> u64 {
        self.0
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Size(0));
    }
    if t.starts_with('-') {
        return Err(format!("a size cannot be negative, got `{s}`"));
    }
    let Some((v, unit)) = split_number(t) else {
        return Err(bad(SIZE_HINT, s));
    };
    let unit = if unit == "KB" { "kB" } else { unit };
    let Some((_, k)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(bad(SIZE_HINT, s));
    };
    let bytes = v * *k as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("size `{s}` is too large"));
    }
    if bytes.fract() != 0.0 {
        return Err(format!("size `{s}` is not a whole number of bytes"));
    }
    Ok(Size(bytes as u64))
}

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_size(s)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (u, k) in SIZE_UNITS.iter().take(5) {
            if self.0 != 0 && self.0.is_multiple_of(*k) {
                return write!(f, "{}{u}", self.0 / k);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size like `512MiB` or `8GiB`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
        parse_size(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
        if v == 0 {
            Ok(Size(0))
        } else {
            Err(E::custom(format!(
                "{SIZE_HINT}, got the bare number `{v}` (add a unit, e.g. `{v}B`)"
            )))
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
        if v < 0 {
            Err(E::custom(format!("a size cannot be negative, got `{v}`")))
        } else {
            self.visit_u64(v.unsigned_abs())
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
        Err(E::custom(bad(SIZE_HINT, &v.to_string())))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size: a number and a unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB), e.g. `8GiB`.",
            "type": "string",
            "pattern": r"^\s*[0-9][0-9_]*(\.[0-9_]*)?\s*(B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB)\s*$"
        })
    }
}

// ---------------------------------------------------------------------------
// Bandwidth
// ---------------------------------------------------------------------------

/// A bandwidth, in bits per second.
///
/// Written as a number and a unit: `bit/s`, `kbit/s`, `Mbit/s`, `Gbit/s`,
/// `Tbit/s` (powers of 1000), e.g. `100Mbit/s`; `bps`, `kbps`, `Mbps`, `Gbps`
/// and `Tbps` are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Bandwidth(pub f64);

impl Bandwidth {
    /// Bits per second.
    pub fn bits_per_sec(&self) -> f64 {
        self.0
    }
}

fn parse_bandwidth(s: &str) -> Result<Bandwidth, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("a bandwidth cannot be negative, got `{s}`"));
    }
    let Some((v, unit)) = split_number(t) else {
        return Err(bad(BANDWIDTH_HINT, s));
    };
    let unit = match unit {
        "bps" => "bit/s",
        "kbps" | "Kbps" | "Kbit/s" => "kbit/s",
        "Mbps" => "Mbit/s",
        "Gbps" => "Gbit/s",
        "Tbps" => "Tbit/s",
        u => u,
    };
    match BANDWIDTH_UNITS.iter().find(|(u, _)| *u == unit) {
        Some((_, k)) => {
            let b = v * k;
            if b.is_finite() {
                Ok(Bandwidth(b))
            } else {
                Err(bad(BANDWIDTH_HINT, s))
            }
        }
        None => Err(bad(BANDWIDTH_HINT, s)),
    }
}

impl FromStr for Bandwidth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_bandwidth(s)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cands = BANDWIDTH_UNITS
            .iter()
            .map(|(u, k)| format!("{}{u}", self.0 / k));
        match shortest(cands, |c| parse_bandwidth(c).ok(), *self) {
            Some(s) => f.write_str(&s),
            None => write!(f, "{}bit/s", self.0),
        }
    }
}

impl Serialize for Bandwidth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct BandwidthVisitor;

impl Visitor<'_> for BandwidthVisitor {
    type Value = Bandwidth;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bandwidth like `100Mbit/s`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bandwidth, E> {
        parse_bandwidth(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bandwidth, E> {
        Err(E::custom(format!(
            "{BANDWIDTH_HINT}, got the bare number `{v}` (add a unit, e.g. `{v}Mbit/s`)"
        )))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bandwidth, E> {
        Err(E::custom(bad(BANDWIDTH_HINT, &v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bandwidth, E> {
        Err(E::custom(bad(BANDWIDTH_HINT, &v.to_string())))
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BandwidthVisitor)
    }
}

impl JsonSchema for Bandwidth {
    fn schema_name() -> Cow<'static, str> {
        "Bandwidth".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A bandwidth: a number and a unit (bit/s, kbit/s, Mbit/s, Gbit/s, Tbit/s), e.g. `100Mbit/s`.",
            "type": "string",
            "pattern": r"^\s*[0-9][0-9_]*(\.[0-9_]*)?\s*(bit/s|kbit/s|Kbit/s|Mbit/s|Gbit/s|Tbit/s|bps|kbps|Kbps|Mbps|Gbps|Tbps)\s*$"
        })
    }
}
