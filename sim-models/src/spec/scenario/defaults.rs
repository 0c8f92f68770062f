//! Serde defaults and skip predicates of the scenario's fields.

use crate::spec::Duration;

pub(super) fn one_replica() -> u16 {
    1
}

pub(super) fn one_f64() -> f64 {
    1.0
}

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}

pub(super) fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

pub(super) fn default_window() -> Duration {
    Duration(30.0 * 86_400.0)
}

pub(super) fn default_gate() -> f64 {
    0.05
}
