//! The scenario skeleton of a graph: its runtime resources, the
//! dependencies between them (paths through resources that are not
//! runtime collapsed, each saying through what), a handler per resource
//! that calls others, a workload on each entry point, and a `# guess`
//! comment on every number the input does not give. It validates and runs
//! as written; the guesses are for the user to replace.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sim_models::spec::ResourceType;

use crate::graph::Graph;

/// A dependency of the skeleton and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    /// Caller.
    pub from: String,
    /// Callee.
    pub to: String,
    /// Why: the evidence, or the path it collapses.
    pub why: String,
}

/// Resource ids of the scenario: `/` (Kubernetes `service/x`) becomes `-`.
fn rid(id: &str) -> String {
    id.replace('/', "-")
}

fn is_lb(g: &Graph, id: &str) -> bool {
    g.nodes.get(id).and_then(|n| n.runtime) == Some(ResourceType::LoadBalancer)
}

fn runtime(g: &Graph, id: &str) -> bool {
    g.nodes
        .get(id)
        .is_some_and(|n| n.runtime.is_some() && n.folded_into.is_none())
}

/// Whether paths may be collapsed through `id` (not a network, security
/// or identity resource, which connect everything without carrying calls).
fn wiring(g: &Graph, id: &str) -> bool {
    g.nodes
        .get(id)
        .is_some_and(|n| n.runtime.is_none() && !crate::cfn::network_or_security(&n.kind))
}

/// The runtime dependencies of `g`, cycles broken (each dropped edge said).
pub fn dependencies(g: &Graph) -> (Vec<Dep>, Vec<String>) {
    let mut deps: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut add = |a: &str, b: &str, why: String| {
        // A load balancer sends requests to what refers to it.
        let (a, b, why) = if is_lb(g, b) && !is_lb(g, a) {
            (
                b,
                a,
                format!("{why}; a load balancer sends requests to what refers to it"),
            )
        } else {
            (a, b, why)
        };
        if a != b {
            deps.entry((a.to_owned(), b.to_owned())).or_insert(why);
        }
    };
    // `DependsOn` orders creation; it says nothing about calls.
    let calls = |e: &crate::graph::GEdge| e.evidence.iter().any(|v| v.via != "DependsOn");
    let out: BTreeMap<&str, Vec<&str>> =
        g.edges
            .iter()
            .filter(|(_, e)| calls(e))
            .fold(BTreeMap::new(), |mut m, ((a, b), _)| {
                m.entry(a.as_str()).or_default().push(b.as_str());
                m
            });
    for a in g.nodes.keys().filter(|a| runtime(g, a)) {
        // Breadth-first through wiring nodes.
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<(&str, Vec<&str>)> = VecDeque::from([(a.as_str(), Vec::new())]);
        while let Some((n, via)) = queue.pop_front() {
            for &b in out.get(n).into_iter().flatten() {
                if !seen.insert(b) {
                    continue;
                }
                if runtime(g, b) {
                    let why = if via.is_empty() {
                        let e = &g.edges[&(n.to_owned(), b.to_owned())];
                        e.evidence
                            .first()
                            .map(|v| format!("{} {}", v.via, v.detail))
                            .unwrap_or_default()
                    } else {
                        format!("through {}", via.join(", "))
                    };
                    add(a, b, why);
                } else if wiring(g, b) {
                    let mut v = via.clone();
                    v.push(b);
                    queue.push_back((b, v));
                }
            }
        }
    }
    // Wiring that joins a load balancer to other resources (an API method
    // naming an API and a function; a listener, its target group and the
    // service registered in it): the load balancer calls them.
    let mut undirected: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for ((a, b), _) in g.edges.iter().filter(|(_, e)| calls(e)) {
        undirected.entry(a).or_default().insert(b);
        undirected.entry(b).or_default().insert(a);
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in g.nodes.keys().filter(|n| wiring(g, n)) {
        if done.contains(start.as_str()) {
            continue;
        }
        let mut comp = Vec::new();
        let mut attached: BTreeSet<&str> = BTreeSet::new();
        let mut stack = vec![start.as_str()];
        done.insert(start);
        while let Some(n) = stack.pop() {
            comp.push(n);
            for &m in undirected.get(n).into_iter().flatten() {
                if runtime(g, m) {
                    attached.insert(m);
                } else if wiring(g, m) && done.insert(m) {
                    stack.push(m);
                }
            }
        }
        for &lb in attached.iter().filter(|x| is_lb(g, x)) {
            for &x in attached.iter().filter(|x| !is_lb(g, x)) {
                comp.sort_unstable();
                let shown: Vec<&str> = comp.iter().take(4).copied().collect();
                deps.entry((lb.to_owned(), x.to_owned())).or_insert(format!(
                    "joined through {}{}",
                    shown.join(", "),
                    if comp.len() > 4 { ", …" } else { "" }
                ));
            }
        }
    }
    // Break cycles: depth first from the entry points, dropping back edges.
    let nodes: Vec<&str> = g
        .nodes
        .keys()
        .map(String::as_str)
        .filter(|n| runtime(g, n))
        .collect();
    let succ: BTreeMap<&str, Vec<&str>> = deps.keys().fold(BTreeMap::new(), |mut m, (a, b)| {
        m.entry(a.as_str()).or_default().push(b.as_str());
        m
    });
    let has_in: BTreeSet<&str> = deps.keys().map(|(_, b)| b.as_str()).collect();
    let mut order: Vec<&str> = nodes
        .iter()
        .copied()
        .filter(|n| !has_in.contains(n))
        .collect();
    order.extend(nodes.iter().copied().filter(|n| has_in.contains(n)));
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut dropped: Vec<(String, String)> = Vec::new();
    fn dfs<'a>(
        n: &'a str,
        succ: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        dropped: &mut Vec<(String, String)>,
    ) {
        state.insert(n, 1);
        for &m in succ.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => dropped.push((n.to_owned(), m.to_owned())),
                Some(_) => {}
                None => dfs(m, succ, state, dropped),
            }
        }
        state.insert(n, 2);
    }
    for n in order {
        if !state.contains_key(n) {
            dfs(n, &succ, &mut state, &mut dropped);
        }
    }
    let mut notes = Vec::new();
    for (a, b) in &dropped {
        let why = deps.remove(&(a.clone(), b.clone())).unwrap_or_default();
        notes.push(format!(
            "{a} → {b} ({why}) is left out: it closes a cycle of calls, which one operation per resource cannot express; model the operations that make it apart"
        ));
    }
    (
        deps.into_iter()
            .map(|((from, to), why)| Dep { from, to, why })
            .collect(),
        notes,
    )
}

/// A plausible service time per type: a guess.
fn service_time(t: ResourceType) -> &'static str {
    match t {
        ResourceType::Cache => "{ dist: lognormal, median: 500us, sigma: 0.4 }",
        ResourceType::Database => "{ dist: lognormal, median: 4ms, sigma: 0.6 }",
        ResourceType::Queue => "{ dist: lognormal, median: 2ms, sigma: 0.5 }",
        ResourceType::Storage => "{ dist: lognormal, median: 10ms, sigma: 0.6 }",
        ResourceType::Function => "{ dist: lognormal, median: 20ms, sigma: 0.7 }",
        ResourceType::LoadBalancer | ResourceType::Dns => {
            "{ dist: lognormal, median: 1ms, sigma: 0.3 }"
        }
        ResourceType::NetworkLink => "{ dist: lognormal, median: 200us, sigma: 0.3 }",
        _ => "{ dist: lognormal, median: 5ms, sigma: 0.5 }",
    }
}

/// `s` plain when YAML reads it back as the same string, else quoted.
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

/// The skeleton's YAML text.
pub fn scenario(g: &Graph, name: &str) -> String {
    let (deps, notes) = dependencies(g);
    let ids: Vec<&str> = g
        .nodes
        .keys()
        .map(String::as_str)
        .filter(|n| runtime(g, n))
        .collect();
    let callees: BTreeSet<&str> = deps.iter().map(|d| d.to.as_str()).collect();
    let mut entries: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|n| !callees.contains(n))
        .collect();
    if entries.is_empty() {
        entries.extend(ids.first());
    }
    let mut s = String::new();
    s += &format!(
        "# Imported by `preflight import` from {}.\n# The resources, their replicas, targets and dependencies come from the input;\n# every line marked `# guess` is not in it: check those first. Failure modes are\n# each type's built-in defaults (datasets/default_failure_modes.yaml).\n",
        g.sources.join(", ")
    );
    for n in &notes {
        s += &format!("# {n}\n");
    }
    s += &format!("name: {}\n", yaml_str(name));
    s += "seed: 1\ncampaigns: 100\nhorizon: 10m                # guess: simulated time per campaign\n\nresources:\n";
    for id in &ids {
        let n = &g.nodes[*id];
        let t = n.runtime.expect("runtime nodes have a type");
        s += &format!(
            "  - id: {}   # {} at {}:{}\n",
            yaml_str(&rid(id)),
            n.kind,
            n.file,
            n.line
        );
        s += &format!("    type: {}\n", t.as_str());
        match (&n.replicas, &n.replicas_from) {
            (Some(r), Some(w)) => s += &format!("    replicas: {r}               # {w}\n"),
            _ => s += "    replicas: 1               # guess: the input does not say\n",
        }
        let conc = if t == ResourceType::LoadBalancer {
            1024
        } else {
            64
        };
        s += &format!("    concurrency: {conc}           # guess\n");
        s += &format!("    service_time: {}   # guess\n", service_time(t));
        if let Some(target) = &n.target {
            let json = serde_json::to_string(target).expect("a target serialises");
            s += &format!("    target: {json}\n");
        }
        for note in &n.notes {
            s += &format!("    # {note}\n");
        }
    }
    if !deps.is_empty() {
        s += "\ndependencies:\n";
        for d in &deps {
            s += &format!(
                "  - {{ from: {}, to: {} }}   # {}\n",
                yaml_str(&rid(&d.from)),
                yaml_str(&rid(&d.to)),
                d.why.replace('\n', " ")
            );
        }
    }
    s += "\nhandlers:\n";
    let mut handlers = Vec::new();
    for id in &ids {
        let calls: Vec<&Dep> = deps.iter().filter(|d| d.from == *id).collect();
        let entry = entries.contains(id);
        if calls.is_empty() && !entry {
            continue;
        }
        let h = format!("{}-handler", rid(id));
        s += &format!(
            "  - id: {}\n    runs_on: {}\n    operations:\n      - name: request\n",
            yaml_str(&h),
            yaml_str(&rid(id))
        );
        if calls.is_empty() {
            s += "        steps: []\n";
        } else {
            s += "        steps:\n";
            for d in calls {
                s += &format!(
                    "          - {{ call: {}, timeout: 1s }}   # guess: timeout, no retry\n",
                    yaml_str(&rid(&d.to))
                );
            }
        }
        if entry {
            s += "    slo: { success_rate: 0.999, latency_p99: 1s }   # guess\n";
        }
        handlers.push((h, entry));
    }
    s += "\nworkload:                     # the entry points: nothing in the input calls them\n";
    for (h, entry) in &handlers {
        if *entry {
            s += &format!(
                "  - {{ handler: {}, arrivals: {{ process: poisson, rate: 50/s }} }}   # guess: rate\n",
                yaml_str(h)
            );
        }
    }
    s
}
