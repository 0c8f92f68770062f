//! Service paths (`paths:` in a scenario): solved statically for
//! `preflight paths` ([`solve`]) and simulated as campaigns of
//! `preflight run` ([`campaigns`]). The model and the algorithms are in
//! `sim_models::paths`.

pub mod campaigns;
pub mod solve;
