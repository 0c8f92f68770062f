//! Plain-text helpers shared by the tables the engine renders.

/// `s`, cut to at most `n` characters with a trailing `…` when longer.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `x` with `digits` decimals, or `-` when it is NaN (no data).
pub fn fmt_f(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.digits$}")
    }
}

/// Appends a formatted line to a `String` (rendering cannot fail).
#[macro_export]
#[doc(hidden)]
macro_rules! textln {
    ($out:expr) => {{
        $out.push('\n');
    }};
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Appends formatted text to a `String` (rendering cannot fail).
#[macro_export]
#[doc(hidden)]
macro_rules! text {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_short_and_cuts_long() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn nan_prints_as_a_dash() {
        assert_eq!(fmt_f(f64::NAN, 3), "-");
        assert_eq!(fmt_f(0.12345, 3), "0.123");
    }
}

/// A span of time as the scenario format writes it, in the largest unit
/// that divides it: `30d`, `5m`, `90s`, `1.5h` (the scenario format's
/// units `d`, `h`, `m`, `s`).
pub fn fmt_span(secs: f64) -> String {
    for (unit, size) in [("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)] {
        if secs >= size && (secs / size).fract() == 0.0 {
            return format!("{}{unit}", secs / size);
        }
    }
    if secs >= 3_600.0 {
        return format!("{}h", (secs / 3_600.0 * 1e3).round() / 1e3);
    }
    format!("{}s", (secs * 1e3).round() / 1e3)
}

#[cfg(test)]
mod span_tests {
    use super::fmt_span;

    #[test]
    fn spans_take_the_largest_unit_that_divides_them() {
        assert_eq!(fmt_span(2_592_000.0), "30d");
        assert_eq!(fmt_span(300.0), "5m");
        assert_eq!(fmt_span(5_400.0), "90m");
        assert_eq!(fmt_span(90.0), "90s");
        assert_eq!(fmt_span(3_600.0), "1h");
        assert_eq!(fmt_span(0.25), "0.25s");
        assert_eq!(fmt_span(5_401.0), "1.5h");
    }
}
