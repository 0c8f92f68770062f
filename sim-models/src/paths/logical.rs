//! Logical path creation: which chains of operators turn the source type
//! into the sink type, cheapest first.
//!
//! Data types are the nodes of a petgraph [`DiGraph`]; every operator is an
//! edge from its input type to its output type, weighted by its cost per
//! ADU. A logical path (a *composition*) is a simple path of that graph: no
//! type is produced twice, so operators that undo each other never loop.
//!
//! [`TypeGraph::k_cheapest`] is Yen's algorithm (1971). Each round takes the
//! last path found, and for every prefix of it (the *root*) asks for the
//! cheapest way from the prefix's last type (the *spur*) to the sink type
//! that leaves the root by an operator none of the paths already found with
//! that root uses, without revisiting a root type. The cheapest candidate
//! becomes the next path. The shortest-path step is a Dijkstra over the
//! petgraph graph that records the *edge* it came by: petgraph's own
//! `dijkstra` returns no predecessors and `astar` returns node sequences,
//! which cannot tell apart two operators with the same input and output type
//! (a cheap and a fast transcoder, say). Costs are validated non-negative.
//!
//! Cost: `O(k · L · (V + E) log V)` for `L` the length of the longest path.
//!
//! Ties are broken deterministically: Dijkstra tries operators in index
//! order and keeps the first predecessor found at the lowest cost, and among
//! Yen's candidates of equal cost the lexicographically smallest operator
//! sequence is taken first; the same operators always give the same order.
//!
//! **A source type equal to the sink type** is the empty composition (cost
//! 0): the path only forwards ADUs from the source node to the sink node.
//! The scenario format allows it (a chain of zero operators turns a type into
//! itself), and since compositions are simple paths it is then the only one.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, EdgeRef};

/// One composition: operators in order, from the source type to the sink type.
#[derive(Debug, Clone, PartialEq)]
pub struct LogicalPath {
    /// Operator indices (into the list the [`TypeGraph`] was built from), in data order.
    pub ops: Vec<usize>,
    /// Sum of the operators' costs per ADU.
    pub cost: f64,
}

impl LogicalPath {
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cost
            .total_cmp(&other.cost)
            .then_with(|| self.ops.cmp(&other.ops))
    }
}

/// The graph of data types and operators.
///
/// ```
/// use sim_models::paths::TypeGraph;
/// // a -> b -> c costs 1 + 1; a -> c directly costs 3.
/// let g = TypeGraph::new([("a", "b", 1.0), ("b", "c", 1.0), ("a", "c", 3.0)]);
/// let paths = g.k_cheapest("a", "c", 3);
/// assert_eq!(paths.len(), 2);
/// assert_eq!(paths[0].ops, vec![0, 1]);
/// assert_eq!(paths[1].ops, vec![2]);
/// ```
#[derive(Debug, Clone)]
pub struct TypeGraph {
    graph: DiGraph<String, usize>,
    types: BTreeMap<String, NodeIndex>,
    costs: Vec<f64>,
}

/// Dijkstra's state: cheapest first, then the lower node index.
#[derive(PartialEq)]
struct Item(f64, NodeIndex);

impl Eq for Item {}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

impl TypeGraph {
    /// Builds the graph from operators given as `(input, output, cost)`; the
    /// `i`-th operator is edge `i`, and paths name operators by that index.
    pub fn new<'a>(ops: impl IntoIterator<Item = (&'a str, &'a str, f64)>) -> Self {
        let mut g = TypeGraph {
            graph: DiGraph::new(),
            types: BTreeMap::new(),
            costs: Vec::new(),
        };
        for (i, (input, output, cost)) in ops.into_iter().enumerate() {
            let a = g.type_node(input);
            let b = g.type_node(output);
            g.graph.add_edge(a, b, i);
            g.costs.push(cost);
        }
        g
    }

    fn type_node(&mut self, t: &str) -> NodeIndex {
        if let Some(n) = self.types.get(t) {
            return *n;
        }
        let n = self.graph.add_node(t.to_string());
        self.types.insert(t.to_string(), n);
        n
    }

    /// Every type some operator consumes or produces, sorted.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// The types that some chain of operators (possibly empty) turns `from`
    /// into, sorted; `from` itself is always among them.
    pub fn reachable(&self, from: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::from([from.to_string()]);
        if let Some(&start) = self.types.get(from) {
            let mut bfs = Bfs::new(&self.graph, start);
            while let Some(n) = bfs.next(&self.graph) {
                out.insert(self.graph[n].clone());
            }
        }
        out
    }

    /// Whether some operator produces type `t`.
    pub fn is_produced(&self, t: &str) -> bool {
        self.types.get(t).is_some_and(|&n| {
            self.graph
                .edges_directed(n, Direction::Incoming)
                .next()
                .is_some()
        })
    }

    /// The `k` cheapest compositions that turn `from` into `to`, cheapest
    /// first (Yen's algorithm); fewer when fewer exist, none when `to`
    /// cannot be reached from `from`.
    pub fn k_cheapest(&self, from: &str, to: &str, k: usize) -> Vec<LogicalPath> {
        if k == 0 {
            return Vec::new();
        }
        if from == to {
            return vec![LogicalPath {
                ops: Vec::new(),
                cost: 0.0,
            }];
        }
        let (Some(&src), Some(&dst)) = (self.types.get(from), self.types.get(to)) else {
            return Vec::new();
        };
        let Some(first) = self.cheapest(src, dst, &BTreeSet::new(), &BTreeSet::new()) else {
            return Vec::new();
        };
        let mut found = vec![first];
        let mut candidates: Vec<LogicalPath> = Vec::new();
        while found.len() < k {
            let last = &found[found.len() - 1];
            let types = self.type_sequence(src, &last.ops);
            for i in 0..last.ops.len() {
                let root = &last.ops[..i];
                let removed_ops: BTreeSet<usize> = found
                    .iter()
                    .filter(|p| p.ops.len() > i && p.ops[..i] == *root)
                    .map(|p| p.ops[i])
                    .collect();
                let removed_types: BTreeSet<NodeIndex> = types[..i].iter().copied().collect();
                if let Some(spur) = self.cheapest(types[i], dst, &removed_ops, &removed_types) {
                    let mut ops = root.to_vec();
                    ops.extend_from_slice(&spur.ops);
                    let cost = ops.iter().map(|&o| self.costs[o]).sum();
                    let cand = LogicalPath { ops, cost };
                    if !candidates.iter().any(|c| c.ops == cand.ops)
                        && !found.iter().any(|c| c.ops == cand.ops)
                    {
                        candidates.push(cand);
                    }
                }
            }
            let Some(best) =
                (0..candidates.len()).min_by(|&a, &b| candidates[a].key_cmp(&candidates[b]))
            else {
                break;
            };
            found.push(candidates.swap_remove(best));
        }
        found
    }

    /// The types visited by `ops` from `src`, `src` first.
    fn type_sequence(&self, src: NodeIndex, ops: &[usize]) -> Vec<NodeIndex> {
        let mut out = vec![src];
        for &o in ops {
            let e = petgraph::graph::EdgeIndex::new(o);
            if let Some((_, b)) = self.graph.edge_endpoints(e) {
                out.push(b);
            }
        }
        out
    }

    /// Dijkstra from `src` to `dst` avoiding `removed_ops` and `removed_types`,
    /// remembering the operator each type was reached by. Ties: the first
    /// settled predecessor wins, operators tried in index order.
    fn cheapest(
        &self,
        src: NodeIndex,
        dst: NodeIndex,
        removed_ops: &BTreeSet<usize>,
        removed_types: &BTreeSet<NodeIndex>,
    ) -> Option<LogicalPath> {
        let n = self.graph.node_count();
        let mut dist = vec![f64::INFINITY; n];
        let mut via: Vec<Option<usize>> = vec![None; n];
        let mut done = vec![false; n];
        let mut heap = BinaryHeap::new();
        dist[src.index()] = 0.0;
        heap.push(Item(0.0, src));
        while let Some(Item(d, u)) = heap.pop() {
            if done[u.index()] {
                continue;
            }
            done[u.index()] = true;
            if u == dst {
                break;
            }
            let mut out: Vec<(usize, NodeIndex)> = self
                .graph
                .edges(u)
                .map(|e| (*e.weight(), e.target()))
                .collect();
            out.sort_unstable();
            for (op, v) in out {
                if removed_ops.contains(&op) || removed_types.contains(&v) || done[v.index()] {
                    continue;
                }
                let nd = d + self.costs[op];
                if nd < dist[v.index()] {
                    dist[v.index()] = nd;
                    via[v.index()] = Some(op);
                    heap.push(Item(nd, v));
                }
            }
        }
        if !done[dst.index()] {
            return None;
        }
        let mut ops = Vec::new();
        let mut at = dst;
        while at != src {
            let op = via[at.index()]?;
            ops.push(op);
            at = self
                .graph
                .edge_endpoints(petgraph::graph::EdgeIndex::new(op))?
                .0;
        }
        ops.reverse();
        Some(LogicalPath {
            cost: dist[dst.index()],
            ops,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a → b → d (1 + 2), a → c → d (2 + 2), a → d (10), b → c (0.5).
    fn diamond() -> TypeGraph {
        TypeGraph::new([
            ("a", "b", 1.0),  // 0
            ("b", "d", 2.0),  // 1
            ("a", "c", 2.0),  // 2
            ("c", "d", 2.0),  // 3
            ("a", "d", 10.0), // 4
            ("b", "c", 0.5),  // 5
        ])
    }

    #[test]
    fn diamond_k_cheapest_in_cost_order() {
        let g = diamond();
        let p = g.k_cheapest("a", "d", 10);
        let got: Vec<(Vec<usize>, f64)> = p.iter().map(|p| (p.ops.clone(), p.cost)).collect();
        assert_eq!(
            got,
            vec![
                (vec![0, 1], 3.0),
                (vec![0, 5, 3], 3.5),
                (vec![2, 3], 4.0),
                (vec![4], 10.0),
            ]
        );
        // k limits the list to the cheapest.
        let two = g.k_cheapest("a", "d", 2);
        assert_eq!(two, p[..2].to_vec());
        assert!(g.k_cheapest("a", "d", 0).is_empty());
    }

    #[test]
    fn parallel_operators_are_told_apart() {
        // Two operators a → b; the cheap one first.
        let g = TypeGraph::new([("a", "b", 5.0), ("a", "b", 1.0), ("b", "c", 1.0)]);
        let p = g.k_cheapest("a", "c", 3);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].ops.clone(), p[0].cost), (vec![1, 2], 2.0));
        assert_eq!((p[1].ops.clone(), p[1].cost), (vec![0, 2], 6.0));
    }

    #[test]
    fn compositions_are_simple_even_with_cycles() {
        // a → b → a is a cycle; b → c. Only a → b → c.
        let g = TypeGraph::new([("a", "b", 1.0), ("b", "a", 0.0), ("b", "c", 1.0)]);
        let p = g.k_cheapest("a", "c", 5);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].ops, vec![0, 2]);
    }

    #[test]
    fn equal_costs_are_all_found_in_a_fixed_order() {
        let g = TypeGraph::new([("a", "c", 2.0), ("a", "b", 1.0), ("b", "c", 1.0)]);
        let p = g.k_cheapest("a", "c", 3);
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.cost == 2.0));
        assert_eq!(p[0].ops, vec![0]);
        assert_eq!(p[1].ops, vec![1, 2]);
        assert_eq!(g.k_cheapest("a", "c", 3), p);
    }

    #[test]
    fn same_type_is_the_empty_composition() {
        let g = diamond();
        let p = g.k_cheapest("b", "b", 3);
        assert_eq!(
            p,
            vec![LogicalPath {
                ops: vec![],
                cost: 0.0
            }]
        );
        // Even for a type no operator knows.
        assert_eq!(g.k_cheapest("zzz", "zzz", 3).len(), 1);
    }

    #[test]
    fn unreachable_types() {
        let g = diamond();
        assert!(g.k_cheapest("d", "a", 3).is_empty());
        assert!(g.k_cheapest("a", "nope", 3).is_empty());
        assert!(g.k_cheapest("nope", "a", 3).is_empty());
        let r: Vec<String> = g.reachable("b").into_iter().collect();
        assert_eq!(r, ["b", "c", "d"]);
        assert_eq!(g.reachable("nope").len(), 1);
        assert!(g.is_produced("d"));
        assert!(!g.is_produced("a"));
        assert_eq!(g.types().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    }

    /// Brute force: every simple path by DFS, sorted by (cost, ops).
    fn all_simple(g: &TypeGraph, from: &str, to: &str) -> Vec<LogicalPath> {
        fn go(
            g: &TypeGraph,
            at: NodeIndex,
            dst: NodeIndex,
            seen: &mut Vec<NodeIndex>,
            ops: &mut Vec<usize>,
            out: &mut Vec<LogicalPath>,
        ) {
            if at == dst {
                out.push(LogicalPath {
                    ops: ops.clone(),
                    cost: ops.iter().map(|&o| g.costs[o]).sum(),
                });
                return;
            }
            for e in g.graph.edges(at) {
                if seen.contains(&e.target()) {
                    continue;
                }
                seen.push(e.target());
                ops.push(*e.weight());
                go(g, e.target(), dst, seen, ops, out);
                ops.pop();
                seen.pop();
            }
        }
        let (s, d) = (g.types[from], g.types[to]);
        let mut out = Vec::new();
        go(g, s, d, &mut vec![s], &mut Vec::new(), &mut out);
        out.sort_by(|a, b| a.key_cmp(b));
        out
    }

    #[test]
    fn yen_matches_brute_force_on_a_dense_graph() {
        // Five types, every ordered pair joined, integer costs from a fixed formula.
        let names = ["t0", "t1", "t2", "t3", "t4"];
        let mut ops = Vec::new();
        for (i, a) in names.iter().enumerate() {
            for (j, b) in names.iter().enumerate() {
                if i != j {
                    ops.push((*a, *b, ((i * 7 + j * 3) % 5 + 1) as f64));
                }
            }
        }
        let g = TypeGraph::new(ops);
        let brute = all_simple(&g, "t0", "t4");
        let yen = g.k_cheapest("t0", "t4", 12);
        assert_eq!(yen.len(), 12);
        let costs = |v: &[LogicalPath]| v.iter().map(|p| p.cost).collect::<Vec<_>>();
        assert_eq!(costs(&yen), costs(&brute[..12]));
        // Every path is simple and distinct.
        for (i, p) in yen.iter().enumerate() {
            assert!(brute.iter().any(|b| b.ops == p.ops));
            assert!(yen[..i].iter().all(|q| q.ops != p.ops));
        }
    }
}
