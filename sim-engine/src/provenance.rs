//! What a run needs to be reproduced: content hashes of the scenario and
//! of every file it read, the build's version and commit.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The commit Preflight was built from (`git rev-parse HEAD` at build
/// time, or `PREFLIGHT_COMMIT`), "unknown" outside a git checkout.
pub const COMMIT: &str = env!("PREFLIGHT_COMMIT");

/// `sha256:` and the SHA-256 of `bytes` in hex: a content hash that names
/// its algorithm.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `path` made absolute (resolving symbolic links where it exists).
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_names_its_algorithm_and_matches_the_standard_vector() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assert_eq!(
            sha256(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
