//! Semantic checks on a parsed [`Scenario`]: references, ranges, cycles.
//!
//! Every check reports a `(path, message)` pair: the path names the field the
//! way the file is written (`resources[2].replicas`, with array indices), so a
//! loader can attach the file's line and column; the message says what is
//! wrong and, where it can, what would fix it. All problems are reported, not
//! only the first.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::spec::*;

/// The longest `horizon` (and `risk.window`, the default horizon): 500
/// years (182,500 days), so that a campaign's end plus its drain (at most an
/// hour) stays inside the clock's range (`Duration::MAX_SECS`, 584 years).
/// Availability studies of rare failures use horizons of a century.
pub const MAX_HORIZON_SECS: f64 = 182_500.0 * 86_400.0;

/// The variant a run with `telemetry:` adds: the base without the hazards
/// the telemetry raised, so the summary can say what it moved.
pub const WITHOUT_TELEMETRY: &str = "without-telemetry";

/// A problem found by [`validate`]: (field path, message).
pub type Issue = (String, String);

/// Checks everything that parsing alone cannot: unique ids, references
/// between sections, numeric ranges, distribution parameters, the workload,
/// operation call cycles and injection parameters that do not fit their mode.
///
/// Empirical distribution files are not read here (this crate does no I/O):
/// the loader checks them.
///
/// ```
/// use sim_models::spec::Scenario;
/// use sim_models::validate::validate;
/// let s: Scenario = serde_json::from_str(r#"{ "name": "x" }"#).unwrap();
/// let issues = validate(&s);
/// assert!(issues.iter().any(|(_, m)| m.contains("nothing to simulate")));
/// ```
pub fn validate(s: &Scenario) -> Vec<Issue> {
    let mut c = Checker::new(s);
    c.top();
    c.resources();
    c.dependencies();
    c.handlers();
    c.workload();
    c.failure_modes();
    c.injection_profile();
    c.injections();
    c.risk();
    c.telemetry();
    c.variants();
    c.service_paths();
    c.cycles();
    c.issues
}

/// Every distribution in the scenario with its field path, in file order
/// (`resources[0].service_time`, `handlers[0].operations[0].steps[2].ready_after`, ...).
pub fn distributions(s: &Scenario) -> Vec<(String, &Distribution)> {
    let mut out = Vec::new();
    fn modes<'a>(out: &mut Vec<(String, &'a Distribution)>, p: &str, ms: &'a [FailureModeSpec]) {
        for (i, m) in ms.iter().enumerate() {
            out.push((format!("{p}[{i}].time_between"), &m.time_between));
            out.push((format!("{p}[{i}].repair"), &m.repair));
            if let Some(a) = m
                .injection_parameters
                .as_ref()
                .and_then(|ip| ip.added.as_ref())
            {
                out.push((format!("{p}[{i}].injection_parameters.added"), a));
            }
        }
    }
    for (i, r) in s.resources.iter().enumerate() {
        if let Some(d) = &r.service_time {
            out.push((format!("resources[{i}].service_time"), d));
        }
        if let Some(ms) = &r.failure_modes {
            modes(&mut out, &format!("resources[{i}].failure_modes"), ms);
        }
    }
    for (i, d) in s.dependencies.iter().enumerate() {
        if let Some(l) = d.network.as_ref().and_then(|n| n.latency.as_ref()) {
            out.push((format!("dependencies[{i}].network.latency"), l));
        }
    }
    for (h, handler) in s.handlers.iter().enumerate() {
        for (o, op) in handler.operations.iter().enumerate() {
            for (k, step) in op.steps.iter().enumerate() {
                if let Step::Poll(p) = step {
                    out.push((
                        format!("handlers[{h}].operations[{o}].steps[{k}].ready_after"),
                        &p.ready_after,
                    ));
                }
            }
        }
    }
    for (i, r) in s.resource_failure_modes.iter().enumerate() {
        modes(
            &mut out,
            &format!("resource_failure_modes[{i}].failure_modes"),
            &r.failure_modes,
        );
    }
    for (i, inj) in s.injections.iter().enumerate() {
        if let Some(a) = inj
            .injection_parameters
            .as_ref()
            .and_then(|ip| ip.added.as_ref())
        {
            out.push((format!("injections[{i}].injection_parameters.added"), a));
        }
    }
    for (i, op) in s.operators.iter().enumerate() {
        out.push((format!("operators[{i}].service_time"), &op.service_time));
    }
    for (i, n) in s.nodes.iter().enumerate() {
        if let Some(f) = &n.failure {
            out.push((format!("nodes[{i}].failure.time_between"), &f.time_between));
            out.push((format!("nodes[{i}].failure.repair"), &f.repair));
        }
    }
    for (i, l) in s.links.iter().enumerate() {
        if let Some(f) = &l.failure {
            out.push((format!("links[{i}].failure.time_between"), &f.time_between));
            out.push((format!("links[{i}].failure.repair"), &f.repair));
        }
    }
    out
}

/// Duration units accepted by `unit:` of an empirical distribution, with their length in seconds.
pub fn empirical_unit_secs(unit: Option<&str>) -> Option<f64> {
    match unit.unwrap_or("s") {
        "us" | "µs" => Some(1e-6),
        "ms" => Some(1e-3),
        "s" => Some(1.0),
        "m" => Some(60.0),
        "h" => Some(3_600.0),
        "d" => Some(86_400.0),
        _ => None,
    }
}

/// What a distribution is used for: decides whether zero is acceptable.
#[derive(Clone, Copy, PartialEq)]
enum DistUse {
    /// A delay that may be zero (network latency, ready_after, repair).
    Delay,
    /// Must have a positive mean (service times, times between failures).
    PositiveMean,
}

struct Checker<'a> {
    s: &'a Scenario,
    issues: Vec<Issue>,
    resource_ids: HashMap<&'a str, usize>,
    handler_ids: HashMap<&'a str, usize>,
    node_ids: HashMap<&'a str, usize>,
}

fn fmt_num(x: f64) -> String {
    format!("{x}")
}

impl<'a> Checker<'a> {
    fn new(s: &'a Scenario) -> Self {
        let first = |it: &mut dyn Iterator<Item = &'a str>| {
            let mut m = HashMap::new();
            for (i, id) in it.enumerate() {
                m.entry(id).or_insert(i);
            }
            m
        };
        Checker {
            s,
            issues: Vec::new(),
            resource_ids: first(&mut s.resources.iter().map(|r| r.id.as_str())),
            handler_ids: first(&mut s.handlers.iter().map(|h| h.id.as_str())),
            node_ids: first(&mut s.nodes.iter().map(|n| n.id.as_str())),
        }
    }

    fn push(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.issues.push((path.into(), msg.into()));
    }

    // -- generic checks ---------------------------------------------------

    fn unique<'b>(&mut self, section: &str, key: &str, ids: impl Iterator<Item = &'b str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, id) in ids.enumerate() {
            if id.trim().is_empty() {
                self.push(
                    format!("{section}[{i}].{key}"),
                    format!("`{key}` must not be empty"),
                );
                continue;
            }
            if id.contains('[') || id.contains(']') {
                self.push(
                    format!("{section}[{i}].{key}"),
                    format!(
                        "`{id}` cannot be used as {key}: `[` and `]` are reserved for variant paths"
                    ),
                );
            }
            if let Some(j) = seen.get(id) {
                self.push(
                    format!("{section}[{i}].{key}"),
                    format!("duplicate {key} `{id}` (already used by {section}[{j}])"),
                );
            } else {
                seen.insert(id, i);
            }
        }
    }

    fn resource_ref(&mut self, path: String, id: &str, what: &str) -> bool {
        if self.resource_ids.contains_key(id) {
            return true;
        }
        let mut msg = format!("{what} `{id}` is not a declared resource");
        if let Some(h) = self.s.handlers.iter().find(|h| h.id == id) {
            msg.push_str(&format!(
                "; `{id}` is a handler: use the resource it runs on (`{}`)",
                h.runs_on
            ));
        } else if let Some(best) = suggest(id, self.s.resources.iter().map(|r| r.id.as_str())) {
            msg.push_str(&format!("; did you mean `{best}`?"));
        } else {
            msg.push_str(&format!(
                " (resources: {})",
                quoted_list(self.s.resources.iter().map(|r| &r.id))
            ));
        }
        self.push(path, msg);
        false
    }

    fn node_ref(&mut self, path: String, id: &str) {
        if self.node_ids.contains_key(id) {
            return;
        }
        let mut msg = format!("`{id}` is not a declared node");
        if let Some(best) = suggest(id, self.s.nodes.iter().map(|n| n.id.as_str())) {
            msg.push_str(&format!("; did you mean `{best}`?"));
        } else {
            msg.push_str(&format!(
                " (nodes: {})",
                quoted_list(self.s.nodes.iter().map(|n| &n.id))
            ));
        }
        self.push(path, msg);
    }

    fn probability(&mut self, path: String, x: f64) {
        if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
            self.push(
                path,
                format!("must be a probability between 0 and 1, got {}", fmt_num(x)),
            );
        }
    }

    fn positive(&mut self, path: String, x: f64) {
        if !(x.is_finite() && x > 0.0) {
            self.push(path, format!("must be greater than 0, got {}", fmt_num(x)));
        }
    }

    fn non_negative(&mut self, path: String, x: f64) {
        if !(x.is_finite() && x >= 0.0) {
            self.push(path, format!("must be 0 or more, got {}", fmt_num(x)));
        }
    }

    fn at_least_one(&mut self, path: String, x: u64) {
        if x < 1 {
            self.push(path, format!("must be at least 1, got {x}"));
        }
    }

    fn positive_duration(&mut self, path: String, d: Duration) {
        if !(d.0.is_finite() && d.0 > 0.0) {
            self.push(path, format!("must be longer than 0, got {d}"));
        }
    }

    fn dist(&mut self, path: &str, d: &Distribution, usage: DistUse) {
        match d {
            Distribution::Constant { value } => {
                if !value.0.is_finite() || value.0 < 0.0 {
                    self.push(
                        format!("{path}.value"),
                        format!("must be 0 or more, got {value}"),
                    );
                } else if usage == DistUse::PositiveMean && value.0 == 0.0 {
                    self.push(
                        format!("{path}.value"),
                        "must be longer than 0 here".to_string(),
                    );
                }
            }
            Distribution::Exponential { mean } => {
                self.positive_duration(format!("{path}.mean"), *mean);
            }
            Distribution::Weibull { shape, scale } | Distribution::Gamma { shape, scale } => {
                if !(1e-3..=1e3).contains(shape) {
                    self.push(
                        format!("{path}.shape"),
                        format!("must be between 0.001 and 1000, got {shape:e}"),
                    );
                }
                self.positive_duration(format!("{path}.scale"), *scale);
            }
            Distribution::Lognormal { median, sigma } => {
                self.positive_duration(format!("{path}.median"), *median);
                self.positive(format!("{path}.sigma"), *sigma);
            }
            Distribution::Uniform { min, max } => {
                if min.0 > max.0 {
                    self.push(
                        format!("{path}.min"),
                        format!("`min` ({min}) must not be greater than `max` ({max})"),
                    );
                } else if usage == DistUse::PositiveMean && max.0 <= 0.0 {
                    self.push(
                        format!("{path}.max"),
                        "must be longer than 0 here".to_string(),
                    );
                }
            }
            Distribution::Empirical { file, column, unit } => {
                if file.trim().is_empty() {
                    self.push(format!("{path}.file"), "must name a CSV file");
                }
                if column.trim().is_empty() {
                    self.push(format!("{path}.column"), "must name a column of the file");
                }
                if empirical_unit_secs(unit.as_deref()).is_none() {
                    self.push(
                        format!("{path}.unit"),
                        format!(
                            "unknown duration unit `{}` (units: us, ms, s, m, h, d)",
                            unit.as_deref().unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }

    fn params(&mut self, path: &str, mode: FailureMode, p: &InjectionParameters) {
        let given: Vec<&str> = [
            ("replicas_affected", p.replicas_affected.is_some()),
            ("added", p.added.is_some()),
            ("code", p.code.is_some()),
            ("error_fraction", p.error_fraction.is_some()),
            ("percent", p.percent.is_some()),
            ("slowdown", p.slowdown.is_some()),
            ("links", p.links.is_some()),
        ]
        .into_iter()
        .filter(|(_, g)| *g)
        .map(|(n, _)| n)
        .collect();
        let allowed = mode.parameters();
        for g in given {
            if !allowed.contains(&g) {
                let takes = if allowed.is_empty() {
                    "takes no injection parameters".to_string()
                } else {
                    format!("takes {}", quoted_list(allowed.iter()))
                };
                self.push(
                    format!("{path}.{g}"),
                    format!("`{g}` does not apply to `{mode}` ({mode} {takes})"),
                );
            }
        }
        if let Some(n) = p.replicas_affected {
            self.at_least_one(format!("{path}.replicas_affected"), n.into());
        }
        if let Some(d) = &p.added {
            self.dist(&format!("{path}.added"), d, DistUse::Delay);
        }
        if let Some(code) = p.code
            && !(100..=599).contains(&code)
        {
            self.push(
                format!("{path}.code"),
                format!("must be a status code from 100 to 599, got {code}"),
            );
        }
        if let Some(f) = p.error_fraction {
            self.probability(format!("{path}.error_fraction"), f);
        }
        if let Some(pc) = p.percent
            && !(pc.is_finite() && (0.0..=100.0).contains(&pc))
        {
            self.push(
                format!("{path}.percent"),
                format!(
                    "must be a percentage between 0 and 100, got {}",
                    fmt_num(pc)
                ),
            );
        }
        if let Some(sd) = p.slowdown
            && !(sd.is_finite() && sd >= 1.0)
        {
            self.push(
                format!("{path}.slowdown"),
                format!("must be a multiplier of at least 1, got {}", fmt_num(sd)),
            );
        }
        if let Some(links) = &p.links {
            for (i, l) in links.iter().enumerate() {
                self.resource_ref(format!("{path}.links[{i}]"), l, "link source");
            }
        }
    }

    fn mode_spec(&mut self, path: &str, m: &FailureModeSpec, replicas: Option<u32>) {
        self.dist(
            &format!("{path}.time_between"),
            &m.time_between,
            DistUse::PositiveMean,
        );
        self.dist(&format!("{path}.repair"), &m.repair, DistUse::Delay);
        if let Some(p) = &m.injection_parameters {
            let pp = format!("{path}.injection_parameters");
            self.params(&pp, m.mode, p);
            if let (Some(n), Some(r)) = (p.replicas_affected, replicas)
                && n > r
            {
                self.push(
                    format!("{pp}.replicas_affected"),
                    format!("{n} replicas affected, but the resource has only {r}"),
                );
            }
        }
    }

    // -- sections -----------------------------------------------------------

    fn top(&mut self) {
        let s = self.s;
        if s.name.trim().is_empty() {
            self.push("name", "must not be empty");
        }
        if let Some(c) = s.campaigns {
            self.at_least_one("campaigns".into(), c);
        }
        if let Some(h) = s.horizon {
            self.positive_duration("horizon".into(), h);
            self.at_most_horizon("horizon".into(), h);
        }
    }

    /// A campaign's simulated time (horizon, then the drain) must stay well
    /// inside what the clock represents: [`MAX_HORIZON_SECS`].
    fn at_most_horizon(&mut self, path: String, d: Duration) {
        if d.0 > MAX_HORIZON_SECS {
            self.push(
                path,
                format!(
                    "{d} is longer than the longest campaign Preflight simulates, 182500d (500 years)"
                ),
            );
        }
    }

    fn resources(&mut self) {
        let s = self.s;
        self.unique("resources", "id", s.resources.iter().map(|r| r.id.as_str()));
        for (i, r) in s.resources.iter().enumerate() {
            let p = format!("resources[{i}]");
            self.at_least_one(format!("{p}.replicas"), r.replicas.into());
            if let Some(c) = r.concurrency {
                self.at_least_one(format!("{p}.concurrency"), c.into());
            }
            if let Some(d) = &r.service_time {
                self.dist(&format!("{p}.service_time"), d, DistUse::PositiveMean);
            }
            if let Some(cap) = &r.capacity {
                if let Some(cpu) = cap.cpu {
                    self.positive(format!("{p}.capacity.cpu"), cpu);
                }
                if cap.memory.is_some_and(|m| m.0 == 0) {
                    self.push(format!("{p}.capacity.memory"), "must be more than 0B");
                }
                if cap.iops == Some(0) {
                    self.push(format!("{p}.capacity.iops"), "must be at least 1, got 0");
                }
            }
            // `health_check: 0s` is allowed: the router notices a dead replica at once.
            if let Some(t) = &r.target {
                self.target(&format!("{p}.target"), t);
            }
            if let Some(ms) = &r.failure_modes {
                for (j, m) in ms.iter().enumerate() {
                    self.mode_spec(
                        &format!("{p}.failure_modes[{j}]"),
                        m,
                        Some(r.replicas.into()),
                    );
                }
            }
        }
    }

    /// `target:` is for exports only, but a malformed one is caught here,
    /// where the line is known, not when an export needs it.
    fn target(&mut self, p: &str, t: &crate::spec::Target) {
        if let Some(a) = &t.aws {
            if a.arn.is_none() && a.tags.as_ref().is_none_or(|t| t.is_empty()) {
                self.push(
                    format!("{p}.aws"),
                    "needs `arn:` or `tags:` (which resources to act on)",
                );
            }
            if let Some(arn) = &a.arn {
                let parts: Vec<&str> = arn.splitn(6, ':').collect();
                if parts.len() < 6
                    || parts[0] != "arn"
                    || parts[2].is_empty()
                    || parts[5].is_empty()
                {
                    self.push(
                        format!("{p}.aws.arn"),
                        "expected an ARN, `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (e.g. `arn:aws:rds:eu-west-1:123456789012:db:orders`)",
                    );
                }
            }
            if let Some(rt) = &a.resource_type {
                let parts: Vec<&str> = rt.split(':').collect();
                let word = |w: &str| {
                    !w.is_empty()
                        && w.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                };
                if parts.len() != 3 || parts[0] != "aws" || !word(parts[1]) || !word(parts[2]) {
                    self.push(
                        format!("{p}.aws.resource_type"),
                        format!(
                            "`{rt}` is not an AWS FIS resource type: expected `aws:SERVICE:TYPE` (e.g. `aws:ecs:task`, `aws:ec2:instance`, `aws:rds:db`)"
                        ),
                    );
                }
            }
            for (k, _) in a.tags.iter().flatten() {
                if k.is_empty() {
                    self.push(format!("{p}.aws.tags"), "a tag key must not be empty");
                }
            }
        }
        if let Some(k) = &t.kubernetes {
            if k.selector.is_empty() {
                self.push(
                    format!("{p}.kubernetes.selector"),
                    "needs at least one label (e.g. `{ app: orders-db }`): without one every pod of the namespace would be struck",
                );
            }
            if let Some(ns) = &k.namespace
                && !dns_label(ns)
            {
                self.push(
                    format!("{p}.kubernetes.namespace"),
                    format!("`{ns}` is not a Kubernetes namespace name (lower-case letters, digits and `-`, at most 63)"),
                );
            }
            for (key, value) in &k.selector {
                if !label_key(key) {
                    self.push(
                        format!("{p}.kubernetes.selector"),
                        format!("`{key}` is not a Kubernetes label key"),
                    );
                }
                if !label_value(value) {
                    self.push(
                        format!("{p}.kubernetes.selector.{key}"),
                        format!("`{value}` is not a Kubernetes label value (letters, digits, `-`, `_`, `.`, at most 63, starting and ending alphanumeric)"),
                    );
                }
            }
            if let Some(c) = &k.container
                && !dns_label(c)
            {
                self.push(
                    format!("{p}.kubernetes.container"),
                    format!("`{c}` is not a container name (lower-case letters, digits and `-`, at most 63)"),
                );
            }
        }
        if let Some(h) = &t.http {
            let rest = h
                .url
                .strip_prefix("http://")
                .or_else(|| h.url.strip_prefix("https://"));
            if rest.is_none_or(|r| {
                r.is_empty() || r.starts_with('/') || r.contains(char::is_whitespace)
            }) {
                self.push(
                    format!("{p}.http.url"),
                    "expected an `http://` or `https://` URL with a host",
                );
            }
        }
        if let Some(m) = &t.prometheus {
            let s = m.selector.trim();
            if !(s.len() > 2 && s.starts_with('{') && s.ends_with('}')) {
                self.push(
                    format!("{p}.prometheus.selector"),
                    "expected a PromQL label matcher in braces, e.g. `{job=\"orders-db\"}`",
                );
            }
        }
    }

    fn dependencies(&mut self) {
        let s = self.s;
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, d) in s.dependencies.iter().enumerate() {
            let p = format!("dependencies[{i}]");
            let a = self.resource_ref(format!("{p}.from"), &d.from, "caller");
            let b = self.resource_ref(format!("{p}.to"), &d.to, "callee");
            if a && b && d.from == d.to {
                self.push(
                    format!("{p}.to"),
                    format!("`{}` cannot depend on itself", d.to),
                );
            }
            if let Some(j) = seen.get(&(d.from.as_str(), d.to.as_str())) {
                self.push(
                    p.clone(),
                    format!(
                        "duplicate dependency `{}` -> `{}` (already declared at dependencies[{j}])",
                        d.from, d.to
                    ),
                );
            } else {
                seen.insert((&d.from, &d.to), i);
            }
            if let Some(n) = &d.network {
                if let Some(l) = &n.latency {
                    self.dist(&format!("{p}.network.latency"), l, DistUse::Delay);
                }
                self.probability(format!("{p}.network.loss"), n.loss);
            }
        }
    }

    fn handlers(&mut self) {
        let s = self.s;
        self.unique("handlers", "id", s.handlers.iter().map(|h| h.id.as_str()));
        // resource id -> handlers running on it
        let mut on: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, h) in s.handlers.iter().enumerate() {
            on.entry(h.runs_on.as_str()).or_default().push(i);
        }
        let mut ambiguous_reported = HashSet::new();
        for (i, h) in s.handlers.iter().enumerate() {
            let p = format!("handlers[{i}]");
            self.resource_ref(format!("{p}.runs_on"), &h.runs_on, "`runs_on`");
            if h.operations.is_empty() {
                self.push(
                    format!("{p}.operations"),
                    "a handler needs at least one operation",
                );
            }
            self.unique(
                &format!("{p}.operations"),
                "name",
                h.operations.iter().map(|o| o.name.as_str()),
            );
            for (o, op) in h.operations.iter().enumerate() {
                let op_p = format!("{p}.operations[{o}]");
                self.positive(format!("{op_p}.weight"), op.weight);
                for (k, step) in op.steps.iter().enumerate() {
                    let sp = format!("{op_p}.steps[{k}]");
                    match step {
                        Step::Call(c) => {
                            let known =
                                self.resource_ref(format!("{sp}.call"), &c.call, "call target");
                            let targets = on.get(c.call.as_str()).cloned().unwrap_or_default();
                            if known
                                && targets.len() > 1
                                && ambiguous_reported.insert(c.call.as_str())
                            {
                                self.push(
                                    format!("{sp}.call"),
                                    format!(
                                        "calls to `{}` are ambiguous: handlers {} all run on it",
                                        c.call,
                                        quoted_list(targets.iter().map(|t| &s.handlers[*t].id))
                                    ),
                                );
                            }
                            if let Some(name) = &c.operation
                                && known
                            {
                                if targets.is_empty() {
                                    self.push(
                                        format!("{sp}.operation"),
                                        format!(
                                            "no handler runs on `{}`, so it has no operation `{name}`",
                                            c.call
                                        ),
                                    );
                                } else if !targets.iter().any(|t| {
                                    s.handlers[*t].operations.iter().any(|op| &op.name == name)
                                }) {
                                    let names: Vec<&str> = targets
                                        .iter()
                                        .flat_map(|t| {
                                            s.handlers[*t]
                                                .operations
                                                .iter()
                                                .map(|o| o.name.as_str())
                                        })
                                        .collect();
                                    let mut msg = format!(
                                        "handler `{}` (on `{}`) has no operation `{name}`",
                                        s.handlers[targets[0]].id, c.call
                                    );
                                    match suggest(name, names.iter().copied()) {
                                        Some(b) => msg.push_str(&format!("; did you mean `{b}`?")),
                                        None => msg.push_str(&format!(
                                            " (operations: {})",
                                            quoted_list(names)
                                        )),
                                    }
                                    self.push(format!("{sp}.operation"), msg);
                                }
                            }
                            if let Some(t) = c.timeout {
                                self.positive_duration(format!("{sp}.timeout"), t);
                            }
                            if let Some(r) = &c.retry {
                                self.at_least_one(
                                    format!("{sp}.retry.max_attempts"),
                                    r.max_attempts.into(),
                                );
                                if r.max_attempts > crate::limits::MAX_RETRY_ATTEMPTS {
                                    self.push(
                                        format!("{sp}.retry.max_attempts"),
                                        format!(
                                            "at most {} attempts, got {}: every attempt can leave work at the callee and messages in transit, so retries bound a request's work and memory (docs/limits.md)",
                                            crate::limits::MAX_RETRY_ATTEMPTS,
                                            r.max_attempts
                                        ),
                                    );
                                }
                                if let Some(m) = r.max {
                                    self.positive_duration(format!("{sp}.retry.max"), m);
                                    if let Some(b) = r.base
                                        && b.0 > m.0
                                    {
                                        self.push(
                                            format!("{sp}.retry.base"),
                                            format!(
                                                "`base` ({b}) must not be longer than `max` ({m})"
                                            ),
                                        );
                                    }
                                }
                            }
                            if let Some(cb) = &c.circuit_breaker {
                                let cp = format!("{sp}.circuit_breaker");
                                self.probability(format!("{cp}.failure_rate"), cb.failure_rate);
                                self.at_least_one(format!("{cp}.min_calls"), cb.min_calls.into());
                                self.positive_duration(format!("{cp}.window"), cb.window);
                                self.positive_duration(format!("{cp}.open_for"), cb.open_for);
                            }
                        }
                        Step::Poll(pl) => {
                            self.resource_ref(format!("{sp}.poll"), &pl.poll, "poll target");
                            self.positive_duration(format!("{sp}.interval"), pl.interval);
                            self.positive_duration(format!("{sp}.timeout"), pl.timeout);
                            if pl.interval.0 > 0.0
                                && pl.timeout.0 / pl.interval.0 > crate::limits::MAX_POLLS_PER_STEP
                            {
                                self.push(
                                    format!("{sp}.interval"),
                                    format!(
                                        "`timeout` ({}) / `interval` ({}) is {:.0} polls per step; at most {:.0} (docs/limits.md)",
                                        pl.timeout,
                                        pl.interval,
                                        pl.timeout.0 / pl.interval.0,
                                        crate::limits::MAX_POLLS_PER_STEP
                                    ),
                                );
                            }
                            self.dist(
                                &format!("{sp}.ready_after"),
                                &pl.ready_after,
                                DistUse::Delay,
                            );
                        }
                    }
                }
            }
            if let Some(slo) = &h.slo {
                if let Some(sr) = slo.success_rate {
                    self.probability(format!("{p}.slo.success_rate"), sr);
                }
                if let Some(l) = slo.latency_p99 {
                    self.positive_duration(format!("{p}.slo.latency_p99"), l);
                }
            }
        }
    }

    fn workload(&mut self) {
        let s = self.s;
        for (i, w) in s.workload.iter().enumerate() {
            let p = format!("workload[{i}]");
            if !self.handler_ids.contains_key(w.handler.as_str()) {
                let mut msg = format!("`{}` is not a declared handler", w.handler);
                if let Some(h) = s.handlers.iter().find(|h| h.runs_on == w.handler) {
                    msg.push_str(&format!("; handler `{}` runs on this resource", h.id));
                } else if let Some(b) =
                    suggest(&w.handler, s.handlers.iter().map(|h| h.id.as_str()))
                {
                    msg.push_str(&format!("; did you mean `{b}`?"));
                } else {
                    msg.push_str(&format!(
                        " (handlers: {})",
                        quoted_list(s.handlers.iter().map(|h| &h.id))
                    ));
                }
                self.push(format!("{p}.handler"), msg);
            }
            let r = w.arrivals.rate.0;
            if !(r.is_finite() && r > 0.0) {
                self.push(
                    format!("{p}.arrivals.rate"),
                    format!("must be more than 0, got {}", w.arrivals.rate),
                );
            }
            if let Some(d) = &w.diurnal {
                if d.len() != 24 {
                    self.push(
                        format!("{p}.diurnal"),
                        format!(
                            "needs exactly 24 numbers (one per hour of day), got {}",
                            d.len()
                        ),
                    );
                }
                for (h, x) in d.iter().enumerate() {
                    if !(x.is_finite() && *x >= 0.0) {
                        self.push(
                            format!("{p}.diurnal[{h}]"),
                            format!("must be a multiplier of 0 or more, got {}", fmt_num(*x)),
                        );
                    }
                }
                if !d.is_empty() && !d.iter().any(|x| *x > 0.0) {
                    self.push(
                        format!("{p}.diurnal"),
                        "at least one hour needs a multiplier above 0",
                    );
                }
            }
        }
        let ids = crate::spec::workload_ids(&s.workload);
        for (i, id) in ids.iter().enumerate() {
            let explicit = s.workload[i].id.is_some();
            if explicit && id.trim().is_empty() {
                self.push(format!("workload[{i}].id"), "must not be empty");
            } else if let Some(j) = ids[..i].iter().position(|o| o == id) {
                self.push(
                    if explicit {
                        format!("workload[{i}].id")
                    } else {
                        format!("workload[{i}]")
                    },
                    format!(
                        "workload id `{id}` is already used by workload[{j}]; give each an `id:` of its own (its arrivals draw from the random stream `workload/<id>`)"
                    ),
                );
            }
        }
        if s.paths.is_empty() && s.workload.is_empty() {
            if s.handlers.is_empty() {
                self.push(
                    "",
                    "nothing to simulate: a scenario needs handlers with a `workload`, or `paths`, or both",
                );
            } else {
                self.push(
                    "workload",
                    "no workload: add a `workload` entry sending requests to a handler",
                );
            }
        }
    }

    fn failure_modes(&mut self) {
        let s = self.s;
        let mut seen: HashMap<ResourceType, usize> = HashMap::new();
        for (i, r) in s.resource_failure_modes.iter().enumerate() {
            let p = format!("resource_failure_modes[{i}]");
            if let Some(j) = seen.get(&r.resource_type) {
                self.push(
                    format!("{p}.resource_type"),
                    format!(
                        "`{}` already has failure modes at resource_failure_modes[{j}]; merge them",
                        r.resource_type
                    ),
                );
            } else {
                seen.insert(r.resource_type, i);
            }
            for (j, m) in r.failure_modes.iter().enumerate() {
                self.mode_spec(&format!("{p}.failure_modes[{j}]"), m, None);
            }
        }
    }

    fn injection_profile(&mut self) {
        let Some(f) = &self.s.failure_injection_profile else {
            return;
        };
        let p = "failure_injection_profile";
        if let Some(d) = f.injection_frequency {
            self.positive_duration(format!("{p}.injection_frequency"), d);
        }
        if let Some(a) = &f.abort_when {
            if let Some(e) = a.error_rate {
                self.probability(format!("{p}.abort_when.error_rate"), e);
            }
            if let Some(l) = a.latency_p99 {
                self.positive_duration(format!("{p}.abort_when.latency_p99"), l);
            }
        }
    }

    fn injections(&mut self) {
        let s = self.s;
        self.unique(
            "injections",
            "id",
            s.injections.iter().map(|i| i.id.as_str()),
        );
        let horizon = s.horizon.unwrap_or(s.risk.window);
        for (i, inj) in s.injections.iter().enumerate() {
            let p = format!("injections[{i}]");
            if matches!(inj.id.as_str(), "natural" | "programme" | "remediation") {
                // The job names of the campaigns that are not targeted, in
                // the `scenario_id` column of the result tables.
                self.push(
                    format!("{p}.id"),
                    format!(
                        "`{}` is reserved: it names the {} campaigns in the results' scenario_id column; choose another id",
                        inj.id, inj.id
                    ),
                );
            }
            self.resource_ref(format!("{p}.target"), &inj.target, "target");
            self.positive_duration(format!("{p}.duration"), inj.duration);
            if horizon.0 > 0.0 && inj.at.0 >= horizon.0 {
                self.push(
                    format!("{p}.at"),
                    format!("starts at {} but campaigns last only {horizon}", inj.at),
                );
            }
            if let Some(ip) = &inj.injection_parameters {
                self.params(&format!("{p}.injection_parameters"), inj.mode, ip);
                if let (Some(n), Some(r)) = (
                    ip.replicas_affected,
                    self.resource_ids
                        .get(inj.target.as_str())
                        .map(|k| s.resources[*k].replicas),
                ) && n > u32::from(r)
                {
                    self.push(
                        format!("{p}.injection_parameters.replicas_affected"),
                        format!("{n} replicas affected, but `{}` has only {r}", inj.target),
                    );
                }
            }
        }
    }

    fn risk(&mut self) {
        let r = &self.s.risk;
        self.positive_duration("risk.window".into(), r.window);
        self.at_most_horizon("risk.window".into(), r.window);
        self.probability("risk.threshold.low".into(), r.threshold.low);
        self.probability("risk.threshold.medium".into(), r.threshold.medium);
        self.probability("risk.threshold.high".into(), r.threshold.high);
        let t = &r.threshold;
        if t.low > t.medium || t.medium > t.high {
            self.push(
                "risk.threshold",
                format!(
                    "thresholds must grow: low ({}) ≤ medium ({}) ≤ high ({})",
                    t.low, t.medium, t.high
                ),
            );
        }
        self.probability("risk.gate".into(), r.gate);
    }

    fn variants(&mut self) {
        let s = self.s;
        self.unique(
            "variants",
            "name",
            s.variants.iter().map(|v| v.name.as_str()),
        );
        for (i, v) in s.variants.iter().enumerate() {
            if v.name == "base" {
                self.push(
                    format!("variants[{i}].name"),
                    "`base` is reserved for the unchanged scenario",
                );
            }
            if v.name == WITHOUT_TELEMETRY {
                self.push(
                    format!("variants[{i}].name"),
                    format!("`{WITHOUT_TELEMETRY}` is reserved for the base without what `telemetry:` says (a run with telemetry compares the two)"),
                );
            }
        }
    }

    fn telemetry(&mut self) {
        let Some(t) = &self.s.telemetry else { return };
        if t.file.trim().is_empty() {
            self.push("telemetry.file", "must name a file");
        }
        if let Some(h) = t.horizon {
            self.positive_duration("telemetry.horizon".into(), h);
            self.at_most_horizon("telemetry.horizon".into(), h);
        }
        let mut seen: Vec<(Option<&str>, &str)> = Vec::new();
        for (i, th) in t.thresholds.iter().enumerate() {
            let p = format!("telemetry.thresholds[{i}]");
            if let Some(r) = &th.resource {
                self.resource_ref(format!("{p}.resource"), r, "resource");
            }
            if th.metric.trim().is_empty() {
                self.push(format!("{p}.metric"), "must name a metric of the telemetry");
            }
            match (th.above, th.below) {
                (Some(v), None) | (None, Some(v)) if !v.is_finite() => {
                    self.push(
                        p.clone(),
                        format!("the threshold must be a finite number, got {v}"),
                    );
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => self.push(
                    p.clone(),
                    "give exactly one of `above:` (the metric fails above it) or `below:`",
                ),
            }
            let key = (th.resource.as_deref(), th.metric.as_str());
            if let Some(j) = seen.iter().position(|k| *k == key) {
                self.push(
                    p,
                    format!(
                        "a second threshold on `{}` (telemetry.thresholds[{j}] is the first): give one",
                        th.metric
                    ),
                );
            }
            seen.push(key);
        }
    }

    fn service_paths(&mut self) {
        let s = self.s;
        self.unique("operators", "id", s.operators.iter().map(|o| o.id.as_str()));
        self.unique("nodes", "id", s.nodes.iter().map(|n| n.id.as_str()));
        self.unique("paths", "id", s.paths.iter().map(|p| p.id.as_str()));
        for (i, o) in s.operators.iter().enumerate() {
            let p = format!("operators[{i}]");
            if o.input.trim().is_empty() {
                self.push(format!("{p}.input"), "must name a data type");
            }
            if o.output.trim().is_empty() {
                self.push(format!("{p}.output"), "must name a data type");
            }
            self.non_negative(format!("{p}.cost"), o.cost);
            self.positive(format!("{p}.cpu"), o.cpu);
            self.dist(
                &format!("{p}.service_time"),
                &o.service_time,
                DistUse::Delay,
            );
        }
        for (i, n) in s.nodes.iter().enumerate() {
            let p = format!("nodes[{i}]");
            self.positive(format!("{p}.cpu"), n.cpu);
            if let Some(f) = &n.failure {
                self.dist(
                    &format!("{p}.failure.time_between"),
                    &f.time_between,
                    DistUse::PositiveMean,
                );
                self.dist(&format!("{p}.failure.repair"), &f.repair, DistUse::Delay);
            }
        }
        for (i, l) in s.links.iter().enumerate() {
            let p = format!("links[{i}]");
            self.node_ref(format!("{p}.from"), &l.from);
            self.node_ref(format!("{p}.to"), &l.to);
            if l.from == l.to {
                self.push(
                    format!("{p}.to"),
                    format!("a link cannot join `{}` to itself", l.to),
                );
            }
            if let Some(b) = l.bandwidth
                && !(b.0.is_finite() && b.0 > 0.0)
            {
                self.push(
                    format!("{p}.bandwidth"),
                    format!("must be more than 0, got {b}"),
                );
            }
            self.probability(format!("{p}.loss"), l.loss);
        }
        // An operator no node could ever host.
        let biggest = s.nodes.iter().map(|n| n.cpu).fold(f64::NAN, f64::max);
        if biggest.is_finite() && biggest > 0.0 {
            for (i, o) in s.operators.iter().enumerate() {
                if o.cpu.is_finite() && o.cpu > biggest {
                    self.push(
                        format!("operators[{i}].cpu"),
                        format!(
                            "needs {} CPU, but the largest node has {}",
                            fmt_num(o.cpu),
                            fmt_num(biggest)
                        ),
                    );
                }
            }
        }
        // Which types can be produced from which, through operators.
        let types = crate::paths::TypeGraph::new(
            s.operators
                .iter()
                .map(|o| (o.input.as_str(), o.output.as_str(), o.cost)),
        );
        // Which nodes the links join (links carry data both ways).
        let mut net: HashMap<&str, Vec<&str>> = HashMap::new();
        for l in &s.links {
            net.entry(l.from.as_str()).or_default().push(l.to.as_str());
            net.entry(l.to.as_str()).or_default().push(l.from.as_str());
        }
        for (i, path) in s.paths.iter().enumerate() {
            let p = format!("paths[{i}]");
            self.node_ref(format!("{p}.source.node"), &path.source.node);
            self.node_ref(format!("{p}.sink.node"), &path.sink.node);
            let r = path.adu_rate.0;
            if !(r.is_finite() && r > 0.0) {
                self.push(
                    format!("{p}.adu_rate"),
                    format!("must be more than 0, got {}", path.adu_rate),
                );
            }
            if let Some(q) = &path.qos {
                if let Some(d) = q.max_delay {
                    self.positive_duration(format!("{p}.qos.max_delay"), d);
                }
                if let Some(l) = q.max_loss {
                    self.probability(format!("{p}.qos.max_loss"), l);
                }
            }
            if let Some(m) = &path.monitoring {
                self.positive_duration(format!("{p}.monitoring.heartbeat"), m.heartbeat);
                self.at_least_one(format!("{p}.monitoring.missed"), m.missed.into());
            }
            // A chain of operators (none when the types are equal) must turn
            // the source type into the sink type.
            let (from, to) = (path.source.kind.as_str(), path.sink.kind.as_str());
            let reachable = types.reachable(from);
            if !reachable.contains(to) {
                let mut msg = format!(
                    "no chain of operators turns `{from}` into `{to}`: the types reachable from `{from}` are {}, and `{to}` is not among them",
                    quoted_list(&reachable)
                );
                if !types.is_produced(to) {
                    msg.push_str(&format!("; no operator outputs `{to}`"));
                }
                if let Some(best) = suggest(to, reachable.iter().map(String::as_str))
                    && best != from
                {
                    msg.push_str(&format!("; did you mean `{best}`?"));
                }
                self.push(format!("{p}.sink.type"), msg);
            }
            // Some chain of links must join the source node to the sink node.
            let (a, b) = (path.source.node.as_str(), path.sink.node.as_str());
            if a != b && self.node_ids.contains_key(a) && self.node_ids.contains_key(b) {
                let mut seen = BTreeSet::from([a]);
                let mut queue = VecDeque::from([a]);
                while let Some(n) = queue.pop_front() {
                    for m in net.get(n).into_iter().flatten() {
                        if seen.insert(m) {
                            queue.push_back(m);
                        }
                    }
                }
                if !seen.contains(b) {
                    self.push(
                        format!("{p}.sink.node"),
                        format!(
                            "no chain of links joins the source node `{a}` to `{b}` (nodes linked to `{a}`: {})",
                            quoted_list(seen.iter().filter(|n| **n != a))
                        ),
                    );
                }
            }
        }
    }

    /// Reports operations that can reach themselves through `call`/`poll` steps.
    fn cycles(&mut self) {
        let s = self.s;
        let mut g: DiGraph<(usize, usize), ()> = DiGraph::new();
        let mut idx: HashMap<(usize, usize), NodeIndex> = HashMap::new();
        for (h, handler) in s.handlers.iter().enumerate() {
            for o in 0..handler.operations.len() {
                idx.insert((h, o), g.add_node((h, o)));
            }
        }
        for (h, handler) in s.handlers.iter().enumerate() {
            for (o, op) in handler.operations.iter().enumerate() {
                for step in &op.steps {
                    let (target, opname) = match step {
                        Step::Call(c) => (c.call.as_str(), c.operation.as_deref()),
                        Step::Poll(p) => (p.poll.as_str(), None),
                    };
                    for (h2, handler2) in s.handlers.iter().enumerate() {
                        if handler2.runs_on != target {
                            continue;
                        }
                        for (o2, op2) in handler2.operations.iter().enumerate() {
                            if opname.is_none_or(|n| n == op2.name) {
                                g.update_edge(idx[&(h, o)], idx[&(h2, o2)], ());
                            }
                        }
                    }
                }
            }
        }
        let name = |n: (usize, usize)| {
            format!(
                "handlers[{}].operations[{}]",
                s.handlers[n.0].id, s.handlers[n.0].operations[n.1].name
            )
        };
        let mut sccs = tarjan_scc(&g);
        for scc in &mut sccs {
            scc.sort();
        }
        sccs.sort();
        for scc in sccs {
            let start = scc[0];
            let self_loop = g.contains_edge(start, start);
            if scc.len() == 1 && !self_loop {
                continue;
            }
            // Shortest cycle through `start` inside the component (BFS).
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
            let mut queue = VecDeque::from([start]);
            let mut closing = None;
            'bfs: while let Some(n) = queue.pop_front() {
                let mut next: Vec<NodeIndex> = g.neighbors(n).collect();
                next.sort();
                for m in next {
                    if m == start {
                        closing = Some(n);
                        break 'bfs;
                    }
                    if members.contains(&m) && !prev.contains_key(&m) {
                        prev.insert(m, n);
                        queue.push_back(m);
                    }
                }
            }
            let mut chain = vec![start];
            if let Some(mut n) = closing {
                let mut back = Vec::new();
                while n != start {
                    back.push(n);
                    match prev.get(&n) {
                        Some(p) => n = *p,
                        None => break,
                    }
                }
                back.reverse();
                chain.extend(back);
            }
            chain.push(start);
            let text: Vec<String> = chain.iter().map(|n| name(g[*n])).collect();
            let (h, o) = g[start];
            self.push(
                format!("handlers[{h}].operations[{o}]"),
                format!(
                    "operation call cycle: {} (an operation must not reach itself; name a different `operation:` on one of these calls)",
                    text.join(" → ")
                ),
            );
        }
    }
}

/// Optimal-string-alignment edit distance (Levenshtein plus adjacent swaps).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = match word.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let d = if c.to_lowercase() == lower {
                0
            } else {
                edit_distance(&lower, &c.to_lowercase())
            };
            (d, c)
        })
        .filter(|(d, c)| *d <= limit && *d < c.chars().count().max(word.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A DNS-1123 label: what Kubernetes takes as a namespace or container name.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes label value (may be empty).
fn label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A Kubernetes label key: an optional DNS prefix and `/`, then a name.
fn label_key(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(dns_label))
        && !name.is_empty()
        && label_value(name)
}
