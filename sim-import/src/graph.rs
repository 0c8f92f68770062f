//! The dependency graph an import reads: every node of the input and every
//! edge with where it came from. Nothing is dropped or merged here; the
//! scenario skeleton ([`crate::skeleton`]) is built from it.

use std::collections::BTreeMap;

use serde::Serialize;
use sim_models::spec::{ResourceType, Target};

/// A node: a template resource, a Kubernetes object, a Compose service, a
/// service of a tracing graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GNode {
    /// Its name in the input (logical id, object name, service name).
    pub id: String,
    /// Its kind in the input (`AWS::RDS::DBInstance`, `Deployment`,
    /// `compose service`, `traced service`).
    pub kind: String,
    /// The Preflight type, when it is a runtime resource.
    pub runtime: Option<ResourceType>,
    /// Replicas, when the input says.
    pub replicas: Option<u32>,
    /// Where the replica count came from.
    pub replicas_from: Option<String>,
    /// Where it really is (`target:` of the skeleton).
    pub target: Option<Target>,
    /// The file and line it is defined at.
    pub file: String,
    /// 1-based line (0: unknown).
    pub line: usize,
    /// Folded into another node (a read replica into its source), which
    /// the skeleton counts as a replica.
    pub folded_into: Option<String>,
    /// Findings about it (a single-AZ database), for `analyze`.
    pub notes: Vec<String>,
}

impl GNode {
    /// A node with no replicas, target, notes or folding: what most input
    /// kinds give.
    pub fn new(
        id: String,
        kind: &str,
        runtime: Option<ResourceType>,
        file: &str,
        line: usize,
    ) -> GNode {
        GNode {
            id,
            kind: kind.to_owned(),
            runtime,
            replicas: None,
            replicas_from: None,
            target: None,
            file: file.to_owned(),
            line,
            folded_into: None,
            notes: Vec::new(),
        }
    }
}

/// One piece of evidence for an edge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    /// `Ref`, `Fn::GetAtt`, `Fn::Sub`, `DependsOn`, `depends_on`, `links`,
    /// `env`, `selector`, `tracing`, `edges`.
    pub via: String,
    /// Where: the field path and what it said.
    pub detail: String,
    /// The file and line.
    pub file: String,
    /// 1-based line (0: unknown).
    pub line: usize,
}

/// An edge `from` → `to`: `from` refers to, calls or needs `to`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GEdge {
    /// The node that refers.
    pub from: String,
    /// The node referred to.
    pub to: String,
    /// Every place the input says so.
    pub evidence: Vec<Evidence>,
    /// Calls per second, where the input says (tracing, edge lists).
    pub calls_per_s: Option<f64>,
}

/// The graph of one or more inputs, merged by node name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Graph {
    /// The inputs, as `file (format)`.
    pub sources: Vec<String>,
    /// Nodes by name (a list in JSON).
    #[serde(serialize_with = "values")]
    pub nodes: BTreeMap<String, GNode>,
    /// Edges by `(from, to)` (a list in JSON).
    #[serde(serialize_with = "values")]
    pub edges: BTreeMap<(String, String), GEdge>,
    /// What deserved a word (an unknown kind kept, an unknown intrinsic).
    pub warnings: Vec<String>,
}

fn values<K, V: Serialize, S: serde::Serializer>(
    m: &BTreeMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.values())
}

impl Graph {
    /// Adds `node`, or merges it into the node of that name (filling what
    /// the first lacked).
    pub fn add_node(&mut self, node: GNode) {
        match self.nodes.get_mut(&node.id) {
            None => {
                self.nodes.insert(node.id.clone(), node);
            }
            Some(old) => {
                if old.runtime.is_none() {
                    old.runtime = node.runtime;
                }
                if old.replicas.is_none() {
                    old.replicas = node.replicas;
                    old.replicas_from = node.replicas_from;
                }
                if old.target.is_none() {
                    old.target = node.target;
                }
                old.notes.extend(node.notes);
            }
        }
    }

    /// Adds evidence for `from` → `to` (self-edges are ignored).
    pub fn add_edge(&mut self, from: &str, to: &str, evidence: Evidence, calls_per_s: Option<f64>) {
        if from == to {
            return;
        }
        let e = self
            .edges
            .entry((from.to_owned(), to.to_owned()))
            .or_insert_with(|| GEdge {
                from: from.to_owned(),
                to: to.to_owned(),
                evidence: Vec::new(),
                calls_per_s: None,
            });
        if !e.evidence.contains(&evidence) {
            e.evidence.push(evidence);
        }
        if calls_per_s.is_some() {
            e.calls_per_s = calls_per_s;
        }
    }

    /// A node that is not yet known, as a generic service (for edge lists
    /// and tracing graphs, whose nodes are only names).
    pub fn ensure_service(&mut self, id: &str, kind: &str, file: &str, line: usize) {
        if !self.nodes.contains_key(id) {
            self.add_node(GNode::new(
                id.to_owned(),
                kind,
                Some(ResourceType::Service),
                file,
                line,
            ));
        }
    }

    /// The graph as a table: nodes, then edges with their evidence.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} nodes, {} edges from {}\n\nnodes\n",
            self.nodes.len(),
            self.edges.len(),
            self.sources.join(", ")
        );
        let w = self.nodes.keys().map(String::len).max().unwrap_or(4).max(4);
        for n in self.nodes.values() {
            let runtime = n
                .runtime
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|| "(not runtime)".into());
            out += &format!(
                "  {:w$}  {:32}  {:16}  {}{}\n",
                n.id,
                n.kind,
                runtime,
                n.replicas
                    .map(|r| format!(
                        "replicas {r} ({}) ",
                        n.replicas_from.as_deref().unwrap_or("")
                    ))
                    .unwrap_or_default(),
                format_args!("{}:{}", n.file, n.line)
            );
        }
        out += "\nedges (from → to: evidence)\n";
        for e in self.edges.values() {
            let ev: Vec<String> = e
                .evidence
                .iter()
                .map(|v| format!("{} {} ({}:{})", v.via, v.detail, v.file, v.line))
                .collect();
            out += &format!("  {} → {}: {}\n", e.from, e.to, ev.join("; "));
        }
        if !self.warnings.is_empty() {
            out += "\nwarnings\n";
            for w in &self.warnings {
                out += &format!("  {w}\n");
            }
        }
        out
    }
}
