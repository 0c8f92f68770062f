//! The built-in failure modes per resource type (`datasets/default_failure_modes.yaml`).
//!
//! The file is compiled into the binary, so a run never depends on the
//! working directory; the copy in `datasets/` documents the source of every
//! number.

use serde::Deserialize;
use sim_models::spec::{FailureModeSpec, ResourceType, ResourceTypeFailureModes};

/// The data file, as shipped.
pub const DEFAULTS_YAML: &str = include_str!("../../datasets/default_failure_modes.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    resource_type: ResourceType,
    #[allow(dead_code)]
    sources: Vec<String>,
    failure_modes: Vec<FailureModeSpec>,
}

/// The built-in failure modes of every resource type.
pub fn default_failure_modes() -> Vec<ResourceTypeFailureModes> {
    let entries: Vec<Entry> =
        serde_saphyr::from_str(DEFAULTS_YAML).expect("the bundled defaults file is valid");
    entries
        .into_iter()
        .map(|e| ResourceTypeFailureModes {
            resource_type: e.resource_type,
            failure_modes: e.failure_modes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_has_sourced_defaults() {
        let entries: Vec<Entry> = serde_saphyr::from_str(DEFAULTS_YAML).unwrap();
        let all = ResourceType::ALL;
        for t in all {
            let e = entries
                .iter()
                .find(|e| e.resource_type == t)
                .unwrap_or_else(|| panic!("no defaults for {t:?}"));
            assert!(!e.failure_modes.is_empty(), "{t:?}");
            assert!(!e.sources.is_empty(), "{t:?} has no source");
        }
        assert_eq!(default_failure_modes().len(), all.len());
    }
}
