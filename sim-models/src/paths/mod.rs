//! Service paths: typed operators composed into data paths, placed on nodes,
//! and re-placed when nodes or links fail.
//!
//! The `operators`, `nodes`, `links` and `paths` sections of a scenario are
//! compiled into a [`PathModel`] (names → indices, durations → seconds,
//! distributions → [`Dist`]). Three pure steps work on it:
//!
//! 1. [`logical`]: the `k` cheapest *compositions* (operator sequences) that
//!    turn a path's source type into its sink type ([`TypeGraph`], Yen's
//!    algorithm on a petgraph graph of types).
//! 2. [`physical`]: a *placement* of one composition's operators on nodes
//!    that fits the nodes' free CPU ([`CapacityLedger`]) and minimises the
//!    path's objective (`delay`, `cost`, `load`) under its QoS, with the
//!    connectors routed over the links ([`Routes`]); or, when nothing meets
//!    the QoS, the nearest miss and by how much.
//! 3. [`cache`]: solutions kept per (path, failed nodes and links) and
//!    reused across repairs when the path asks for it (`cache_paths`).
//!
//! [`solve`] runs 1 and 2 for one path; [`PathCache::place_and_allocate`] is
//! what a simulation calls at start-up and on every repair:
//!
//! ```
//! use sim_models::paths::{CapacityLedger, Exclusions, PathCache, PathModel};
//! use sim_models::spec::Scenario;
//! let s: Scenario = serde_json::from_value(serde_json::json!({
//!     "name": "x",
//!     "operators": [
//!         { "id": "zip", "input": "raw", "output": "gz", "cost": 1.0, "cpu": 1.0,
//!           "service_time": { "dist": "constant", "value": "2ms" } }
//!     ],
//!     "nodes": [ { "id": "a", "cpu": 2 }, { "id": "b", "cpu": 2 } ],
//!     "links": [ { "from": "a", "to": "b", "delay": "5ms" } ],
//!     "paths": [ { "id": "p", "source": { "node": "a", "type": "raw" },
//!                  "sink": { "node": "b", "type": "gz" }, "adu_rate": "10/s",
//!                  "cache_paths": true } ]
//! })).unwrap();
//! let model = PathModel::compile(&s, &Default::default()).unwrap();
//! let mut ledger = CapacityLedger::new(&model);
//! let mut cache = PathCache::new();
//! let placed = cache
//!     .place_and_allocate(&model, 0, 3, &mut ledger, &Exclusions::none())
//!     .unwrap();
//! assert!((placed.delay - 0.007).abs() < 1e-12); // 5 ms link + 2 ms service
//! // Node `a` fails: release, exclude it, re-place on what is left.
//! ledger.release(&placed);
//! let down = Exclusions::nodes([0]);
//! assert!(cache.place_and_allocate(&model, 0, 3, &mut ledger, &down).is_err()); // the source is down
//! ```
//!
//! **Links are bidirectional.** The format names a link's ends `from` and
//! `to` and documents them as "one end" and "the other end"; a link carries
//! ADUs both ways with the same delay and loss. Bandwidth is compiled for the
//! simulation but does not enter placement (the format gives no ADU size).

pub mod cache;
pub mod logical;
pub mod physical;
pub mod sim;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::compile::{CompileError, Empirical, resolve_dist};
use crate::dist::Dist;
use crate::spec::{self, Distribution, Optimise, PathRepair};

pub use cache::{CacheStats, PathCache};
pub use logical::{LogicalPath, TypeGraph};
pub use physical::{
    CapacityLedger, Hop, Leg, Placement, PlacementError, Routes, SearchLimits, place,
};

/// The number of compositions listed per path unless asked otherwise.
pub const DEFAULT_K: usize = 3;

/// A typed operator.
#[derive(Debug, Clone)]
pub struct OperatorDef {
    /// The operator's id.
    pub id: String,
    /// The data type consumed.
    pub input: String,
    /// The data type produced.
    pub output: String,
    /// Cost per ADU.
    pub cost: f64,
    /// CPU one instance needs on its node.
    pub cpu: f64,
    /// Time to process one ADU.
    pub service_time: Dist,
    /// Mean of `service_time`, in seconds (what placement counts).
    pub mean_service: f64,
}

/// A node's failure process: alternating up and down times.
#[derive(Debug, Clone)]
pub struct NodeFailureDef {
    /// Time between failures (up time).
    pub time_between: Dist,
    /// Time to repair (down time).
    pub repair: Dist,
}

/// A node operators are placed on.
#[derive(Debug, Clone)]
pub struct NodeDef {
    /// The node's id.
    pub id: String,
    /// CPU available.
    pub cpu: f64,
    /// Its failure process; `None`: never fails.
    pub failure: Option<NodeFailureDef>,
}

/// A bidirectional network link.
#[derive(Debug, Clone)]
pub struct NetLink {
    /// One end (node index).
    pub a: usize,
    /// The other end (node index).
    pub b: usize,
    /// Propagation delay, seconds.
    pub delay: f64,
    /// Bits per second; `None`: unlimited.
    pub bandwidth: Option<f64>,
    /// Probability an ADU is lost crossing the link.
    pub loss: f64,
    /// Its failure process; `None`: never fails.
    pub failure: Option<NodeFailureDef>,
}

/// Quality of service a path requires; `None`: no bound.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QosDef {
    /// Maximum end-to-end delay, seconds.
    pub max_delay: Option<f64>,
    /// Maximum loss fraction.
    pub max_loss: Option<f64>,
}

/// How a path's nodes are watched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitoringDef {
    /// Seconds between heartbeats.
    pub heartbeat: f64,
    /// Missed heartbeats before a node is declared dead.
    pub missed: u32,
}

impl MonitoringDef {
    /// How long after a node dies the control path declares it dead, at
    /// most: `heartbeat × missed`.
    pub fn detection_delay(&self) -> f64 {
        self.heartbeat * f64::from(self.missed)
    }
}

/// One end of a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathEnd {
    /// Node index.
    pub node: usize,
    /// Data type.
    pub kind: String,
}

/// A data path.
#[derive(Debug, Clone)]
pub struct PathDef {
    /// The path's id.
    pub id: String,
    /// Where ADUs enter.
    pub source: PathEnd,
    /// Where ADUs must arrive.
    pub sink: PathEnd,
    /// ADUs per second.
    pub adu_rate: f64,
    /// Required quality of service.
    pub qos: QosDef,
    /// What placement minimises.
    pub optimise: Optimise,
    /// Heartbeat monitoring; `None`: failures are noticed at once.
    pub monitoring: Option<MonitoringDef>,
    /// What happens when one of its nodes fails.
    pub repair: PathRepair,
    /// Whether solutions are kept in a [`PathCache`].
    pub cache_paths: bool,
}

/// The compiled service-path sections of a scenario.
#[derive(Debug, Clone)]
pub struct PathModel {
    /// Operators, in file order.
    pub operators: Vec<OperatorDef>,
    /// Nodes, in file order.
    pub nodes: Vec<NodeDef>,
    /// Links, in file order.
    pub links: Vec<NetLink>,
    /// Paths, in file order.
    pub paths: Vec<PathDef>,
    /// Types and operators.
    pub types: TypeGraph,
    /// All-pairs routes with every node and link up.
    pub routes: Routes,
}

/// Nodes and links that are down (indices), for repairs. Ordered, so it can
/// key a [`PathCache`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Exclusions {
    /// Failed nodes: they host no operator and relay nothing.
    pub nodes: BTreeSet<usize>,
    /// Failed links.
    pub links: BTreeSet<usize>,
}

impl Exclusions {
    /// Nothing is down.
    pub fn none() -> Self {
        Self::default()
    }

    /// These nodes are down.
    pub fn nodes(nodes: impl IntoIterator<Item = usize>) -> Self {
        Exclusions {
            nodes: nodes.into_iter().collect(),
            links: BTreeSet::new(),
        }
    }

    /// Whether nothing is down.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.links.is_empty()
    }
}

/// What [`solve`] found for one path.
#[derive(Debug, Clone)]
pub struct Solution {
    /// The compositions, cheapest first.
    pub logical: Vec<LogicalPath>,
    /// The placement of the first composition (in cost order) that meets
    /// the QoS, or why there is none.
    pub placement: Result<Placement, PlacementError>,
    /// The compositions tried before the one placed and why each was
    /// passed over: (rank in `logical`, reason).
    pub passed_over: Vec<(usize, String)>,
}

impl PathModel {
    /// Compiles the `operators`, `nodes`, `links` and `paths` sections of a
    /// (validated) scenario. `empirical` holds the samples of empirical
    /// service times and failure laws, as for [`crate::compile::compile`].
    pub fn compile(s: &spec::Scenario, empirical: &Empirical) -> Result<Self, Vec<CompileError>> {
        let mut errors = Vec::new();
        let mut dist = |path: String, d: &Distribution| -> Dist {
            let r = resolve_dist(d, empirical);
            r.unwrap_or_else(|e| {
                errors.push(CompileError { path, message: e.0 });
                Dist::Constant { value: 0.0 }
            })
        };
        let operators: Vec<OperatorDef> = s
            .operators
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let service_time = dist(format!("operators[{i}].service_time"), &o.service_time);
                OperatorDef {
                    id: o.id.clone(),
                    input: o.input.clone(),
                    output: o.output.clone(),
                    cost: o.cost,
                    cpu: o.cpu,
                    mean_service: service_time.mean(),
                    service_time,
                }
            })
            .collect();
        let nodes: Vec<NodeDef> = s
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeDef {
                id: n.id.clone(),
                cpu: n.cpu,
                failure: n.failure.as_ref().map(|f| NodeFailureDef {
                    time_between: dist(format!("nodes[{i}].failure.time_between"), &f.time_between),
                    repair: dist(format!("nodes[{i}].failure.repair"), &f.repair),
                }),
            })
            .collect();
        let link_failures: Vec<Option<NodeFailureDef>> = s
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.failure.as_ref().map(|f| NodeFailureDef {
                    time_between: dist(format!("links[{i}].failure.time_between"), &f.time_between),
                    repair: dist(format!("links[{i}].failure.repair"), &f.repair),
                })
            })
            .collect();
        let node_ix: BTreeMap<&str, usize> = s
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let mut node = |path: String, id: &str| -> usize {
            node_ix.get(id).copied().unwrap_or_else(|| {
                errors.push(CompileError {
                    path,
                    message: format!("`{id}` is not a declared node"),
                });
                0
            })
        };
        let links: Vec<NetLink> = s
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| NetLink {
                a: node(format!("links[{i}].from"), &l.from),
                b: node(format!("links[{i}].to"), &l.to),
                delay: l.delay.secs(),
                bandwidth: l.bandwidth.map(|b| b.0),
                loss: l.loss,
                failure: link_failures[i].clone(),
            })
            .collect();
        let paths: Vec<PathDef> = s
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| PathDef {
                id: p.id.clone(),
                source: PathEnd {
                    node: node(format!("paths[{i}].source.node"), &p.source.node),
                    kind: p.source.kind.clone(),
                },
                sink: PathEnd {
                    node: node(format!("paths[{i}].sink.node"), &p.sink.node),
                    kind: p.sink.kind.clone(),
                },
                adu_rate: p.adu_rate.per_sec(),
                qos: p
                    .qos
                    .as_ref()
                    .map(|q| QosDef {
                        max_delay: q.max_delay.map(|d| d.secs()),
                        max_loss: q.max_loss,
                    })
                    .unwrap_or_default(),
                optimise: p.optimise,
                monitoring: p.monitoring.as_ref().map(|m| MonitoringDef {
                    heartbeat: m.heartbeat.secs(),
                    missed: m.missed,
                }),
                repair: p.repair,
                cache_paths: p.cache_paths,
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let types = TypeGraph::new(
            operators
                .iter()
                .map(|o| (o.input.as_str(), o.output.as_str(), o.cost)),
        );
        let routes = Routes::new(nodes.len(), &links, &Exclusions::none());
        Ok(PathModel {
            operators,
            nodes,
            links,
            paths,
            types,
            routes,
        })
    }

    /// The index of the node called `id`.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The index of the path called `id`.
    pub fn path_index(&self, id: &str) -> Option<usize> {
        self.paths.iter().position(|p| p.id == id)
    }

    /// The `k` cheapest compositions of path `path` (an index), cheapest first.
    pub fn logical(&self, path: usize, k: usize) -> Vec<LogicalPath> {
        self.paths.get(path).map_or_else(Vec::new, |p| {
            self.types.k_cheapest(&p.source.kind, &p.sink.kind, k)
        })
    }

    /// Routes avoiding `ex` (the precomputed healthy ones when nothing is down).
    pub fn routes_avoiding(&self, ex: &Exclusions) -> std::borrow::Cow<'_, Routes> {
        if ex.is_empty() {
            std::borrow::Cow::Borrowed(&self.routes)
        } else {
            std::borrow::Cow::Owned(Routes::new(self.nodes.len(), &self.links, ex))
        }
    }
}

/// The `k` cheapest compositions of path `path` and the placement of the
/// first one (in cost order) that meets its QoS, on the capacity `ledger`
/// leaves free, avoiding the nodes and links in `ex`. Nothing is allocated:
/// see [`CapacityLedger::allocate`] or [`PathCache::place_and_allocate`].
pub fn solve(
    model: &PathModel,
    path: usize,
    k: usize,
    ledger: &CapacityLedger,
    ex: &Exclusions,
) -> Solution {
    let logical = model.logical(path, k);
    let (placement, passed_over) = place_any(model, path, &logical, ledger, ex);
    Solution {
        logical,
        placement,
        passed_over,
    }
}

/// Places the first composition of `logical` (in order) that meets the QoS;
/// when none does, the nearest miss over all of them.
pub(crate) fn place_any(
    model: &PathModel,
    path: usize,
    logical: &[LogicalPath],
    ledger: &CapacityLedger,
    ex: &Exclusions,
) -> (Result<Placement, PlacementError>, Vec<(usize, String)>) {
    let Some(p) = model.paths.get(path) else {
        return (
            Err(PlacementError::NoComposition {
                from: String::new(),
                to: String::new(),
            }),
            Vec::new(),
        );
    };
    if logical.is_empty() {
        return (
            Err(PlacementError::NoComposition {
                from: p.source.kind.clone(),
                to: p.sink.kind.clone(),
            }),
            Vec::new(),
        );
    }
    let routes = model.routes_avoiding(ex);
    let mut passed = Vec::new();
    let mut nearest: Option<PlacementError> = None;
    for (rank, lp) in logical.iter().enumerate() {
        match place(
            model,
            path,
            rank,
            lp,
            ledger,
            ex,
            &routes,
            SearchLimits::default(),
        ) {
            Ok(pl) => return (Ok(pl), passed),
            Err(e) => {
                passed.push((rank, e.to_string()));
                nearest = Some(match nearest {
                    None => e,
                    Some(prev) => PlacementError::nearer(prev, e),
                });
            }
        }
    }
    let err = nearest.unwrap_or(PlacementError::NoComposition {
        from: p.source.kind.clone(),
        to: p.sink.kind.clone(),
    });
    (Err(err), passed)
}
