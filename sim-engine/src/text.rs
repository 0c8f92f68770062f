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
