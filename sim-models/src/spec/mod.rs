//! The scenario file format: serde types for every section of
//! `shared/spec/scenario.md`, and the semantic checks on them.
//!
//! One set of types serves YAML, TOML and JSON. Every struct denies unknown
//! fields. Units are strings (`250ms`, `200/s`, `8GiB`, `1Gbit/s`) parsed into
//! [`Duration`], [`Rate`], [`Size`] and [`Bandwidth`]; probabilities are plain
//! `f64` whose range is checked by validation.

/// Reads the next map value into `$fields.$name` and records the key,
/// refusing a key given twice (for the hand-written visitors of
/// `Distribution` and `Step`, which give precise errors).
macro_rules! take_field {
    ($map:ident, $fields:ident, $name:ident) => {{
        if $fields.$name.is_some() {
            return Err(::serde::de::Error::duplicate_field(stringify!($name)));
        }
        $fields.$name = Some($map.next_value()?);
        $fields.seen.push(stringify!($name));
    }};
}

mod distribution;
mod scenario;
mod units;

pub use distribution::*;
pub use scenario::*;
pub use units::*;

/// Names in backticks, comma-separated (`none` when empty; long lists are cut
/// after twelve), for error messages.
pub(crate) fn quoted_list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect();
    if v.is_empty() {
        "none".to_string()
    } else if v.len() > 12 {
        format!("{}, ... ({} in all)", v[..12].join(", "), v.len())
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests;
