//! The path cache (`cache_paths: true`): logical and physical solutions kept
//! and reused across repairs and campaigns.
//!
//! Compositions depend only on the path and `k`, so they are kept per
//! `(path, k)`. A placement depends on what is down *and* on the CPU other
//! paths hold, so it is kept per `(path, k, failed nodes and links, CPU in
//! use per node)`; the CPU is part of the key (rounded to 10⁻⁹) so that a
//! cached answer is always the answer [`super::solve`] would give. The cache
//! is therefore a pure memo: a simulation gets the same placements with or
//! without it and only saves the time (campaigns stay pure functions of
//! their seed, whatever other campaigns put in a shared cache). Failures
//! recur in the same few states (one node down, the others' paths as
//! usual), which is where the hits come from.
//!
//! Keys are ordered (`BTreeMap`), and the cache is bounded: past
//! `capacity` placements the least recently used one is dropped (ties
//! cannot happen: every use gets a new tick).
//!
//! A path with `cache_paths: false` bypasses the cache: nothing is looked up
//! or kept, and the counters do not move.

use std::collections::BTreeMap;

use super::physical::{CapacityLedger, Placement, PlacementError};
use super::{Exclusions, LogicalPath, PathModel, Solution, place_any};

/// Placements kept unless asked otherwise.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Hit and miss counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Composition lists found in the cache.
    pub logical_hits: u64,
    /// Composition lists computed.
    pub logical_misses: u64,
    /// Placements (or placement errors) found in the cache.
    pub placement_hits: u64,
    /// Placements computed.
    pub placement_misses: u64,
    /// Placements dropped to stay within capacity.
    pub evictions: u64,
}

type PlacementKey = (usize, usize, Exclusions, Vec<i64>);

#[derive(Debug, Clone)]
struct Entry {
    placement: Result<Placement, PlacementError>,
    passed_over: Vec<(usize, String)>,
    last_used: u64,
}

/// Solutions per path and situation; see the module docs.
#[derive(Debug, Clone)]
pub struct PathCache {
    logical: BTreeMap<(usize, usize), Vec<LogicalPath>>,
    placements: BTreeMap<PlacementKey, Entry>,
    stats: CacheStats,
    capacity: usize,
    tick: u64,
}

impl Default for PathCache {
    fn default() -> Self {
        Self::new()
    }
}

/// CPU in use per node, in units of 10⁻⁹ CPU.
fn ledger_key(ledger: &CapacityLedger, nodes: usize) -> Vec<i64> {
    (0..nodes)
        .map(|n| (ledger.used(n) * 1e9).round() as i64)
        .collect()
}

impl PathCache {
    /// An empty cache of [`DEFAULT_CAPACITY`] placements.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty cache keeping at most `capacity` placements (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        PathCache {
            logical: BTreeMap::new(),
            placements: BTreeMap::new(),
            stats: CacheStats::default(),
            capacity: capacity.max(1),
            tick: 0,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Placements kept.
    pub fn len(&self) -> usize {
        self.placements.len()
    }

    /// Whether no placement is kept.
    pub fn is_empty(&self) -> bool {
        self.placements.is_empty()
    }

    /// Forgets everything, counters included.
    pub fn clear(&mut self) {
        *self = Self::with_capacity(self.capacity);
    }

    /// [`super::solve`] through the cache (or around it, for a path with
    /// `cache_paths: false`).
    pub fn solve(
        &mut self,
        model: &PathModel,
        path: usize,
        k: usize,
        ledger: &CapacityLedger,
        ex: &Exclusions,
    ) -> Solution {
        let cached = model.paths.get(path).is_some_and(|p| p.cache_paths);
        if !cached {
            return super::solve(model, path, k, ledger, ex);
        }
        let logical = match self.logical.get(&(path, k)) {
            Some(l) => {
                self.stats.logical_hits += 1;
                l.clone()
            }
            None => {
                self.stats.logical_misses += 1;
                let l = model.logical(path, k);
                self.logical.insert((path, k), l.clone());
                l
            }
        };
        self.tick += 1;
        let key: PlacementKey = (path, k, ex.clone(), ledger_key(ledger, model.nodes.len()));
        if let Some(e) = self.placements.get_mut(&key) {
            self.stats.placement_hits += 1;
            e.last_used = self.tick;
            return Solution {
                logical,
                placement: e.placement.clone(),
                passed_over: e.passed_over.clone(),
            };
        }
        self.stats.placement_misses += 1;
        let (placement, passed_over) = place_any(model, path, &logical, ledger, ex);
        if self.placements.len() >= self.capacity
            && let Some(old) = self
                .placements
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
        {
            self.placements.remove(&old);
            self.stats.evictions += 1;
        }
        self.placements.insert(
            key,
            Entry {
                placement: placement.clone(),
                passed_over: passed_over.clone(),
                last_used: self.tick,
            },
        );
        Solution {
            logical,
            placement,
            passed_over,
        }
    }

    /// Places path `path` on what `ledger` leaves free, avoiding `ex`, and
    /// takes the placement's CPU in the ledger. At a repair, release the
    /// old placement first ([`CapacityLedger::release`]) so the path can
    /// keep its surviving nodes.
    pub fn place_and_allocate(
        &mut self,
        model: &PathModel,
        path: usize,
        k: usize,
        ledger: &mut CapacityLedger,
        ex: &Exclusions,
    ) -> Result<Placement, PlacementError> {
        let p = self.solve(model, path, k, ledger, ex).placement?;
        ledger
            .allocate(&p)
            .map_err(|e| PlacementError::NoCapacity {
                rank: p.rank,
                detail: e.to_string(),
            })?;
        Ok(p)
    }
}
