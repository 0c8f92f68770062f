//! From a scenario (the file format) to a [`Model`] (what the actors run on).
//!
//! Compilation resolves names into indices and fills in the defaults the
//! format leaves open:
//!
//! | field absent | meaning |
//! |---|---|
//! | `concurrency` | unlimited slots per replica |
//! | `queue_limit` | unbounded queue |
//! | `service_time` | zero |
//! | `health_check` | the router notices a dead replica at once |
//! | `retry` | one attempt; `base` 0, `max` unbounded |
//! | a dependency for a `call`/`poll` | an implicit lossless, zero-latency, hard link |
//! | failure modes of a resource | its own `failure_modes:`, else the scenario's `resource_failure_modes` for its type, else the built-in defaults for its type (`failure_modes: []` turns failures off) |
//!
//! Effect parameters left out take these values: `process_crash` one replica
//! per replica-scoped process, all for `scope: resource`, one for an
//! injection (or `replicas_affected` in each case); `latency_spike` / `network_latency` add 100 ms;
//! `error_code` fails every request with 503; `cpu_throttle` 50%;
//! `memory_starvation` 50%; `disk_error` fails 10% and slows the rest 2×;
//! `disk_io_starvation` slows 5×. Network modes (`network_latency`,
//! `network_partition`, `dependency_failure`) always act on the whole
//! resource, since they concern the links into it.

use std::collections::HashMap;

use sim_core::SimDuration;

use crate::dist::Dist;
use crate::model::*;
use crate::spec::{self, DependencyKind, Distribution, FailureMode, Fallback, Scope, Step};

/// A problem found while compiling (normally already caught by validation).
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    /// Field path, like `resources[2].service_time`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Samples of empirical distributions, by (file, column), in seconds.
pub type Empirical = HashMap<(String, String), Vec<f64>>;

/// Compiles `s`. `defaults` are the built-in failure modes per resource type;
/// `empirical` holds the samples of every empirical distribution the scenario uses.
pub fn compile(
    s: &spec::Scenario,
    defaults: &[spec::ResourceTypeFailureModes],
    empirical: &Empirical,
) -> Result<Model, Vec<CompileError>> {
    let mut c = Compiler {
        s,
        empirical,
        errors: Vec::new(),
        res_ix: s
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect(),
        handler_ix: s
            .handlers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.as_str(), i))
            .collect(),
        links: Vec::new(),
        link_ix: HashMap::new(),
        effects: Vec::new(),
    };
    let model = c.run(defaults);
    if c.errors.is_empty() {
        Ok(model)
    } else {
        Err(c.errors)
    }
}

struct Compiler<'a> {
    s: &'a spec::Scenario,
    empirical: &'a Empirical,
    errors: Vec<CompileError>,
    res_ix: HashMap<&'a str, usize>,
    handler_ix: HashMap<&'a str, usize>,
    links: Vec<LinkDef>,
    link_ix: HashMap<(usize, usize), usize>,
    effects: Vec<Effect>,
}

/// The sampler of a scenario's distribution: the law with its parameters
/// in seconds, or an empirical table looked up in `empirical` (by file and
/// column). The one conversion every section (resources, handlers, failure
/// modes, service paths) goes through.
pub(crate) fn resolve_dist(
    d: &Distribution,
    empirical: &Empirical,
) -> Result<Dist, crate::dist::DistError> {
    match d {
        Distribution::Constant { value } => Dist::constant(value.secs()),
        Distribution::Exponential { mean } => Dist::exponential(mean.secs()),
        Distribution::Weibull { shape, scale } => Dist::weibull(*shape, scale.secs()),
        Distribution::Lognormal { median, sigma } => Dist::lognormal(median.secs(), *sigma),
        Distribution::Uniform { min, max } => Dist::uniform(min.secs(), max.secs()),
        Distribution::Gamma { shape, scale } => Dist::gamma(*shape, scale.secs()),
        Distribution::Empirical { file, column, .. } => {
            match empirical.get(&(file.clone(), column.clone())) {
                Some(v) => Dist::empirical(v),
                None => Err(crate::dist::DistError(format!(
                    "no samples loaded for column `{column}` of `{file}`"
                ))),
            }
        }
    }
}

fn secs(d: &spec::Duration) -> SimDuration {
    SimDuration::from_secs_f64(d.secs())
}

impl<'a> Compiler<'a> {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(CompileError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn dist(&mut self, path: &str, d: &Distribution) -> Dist {
        resolve_dist(d, self.empirical).unwrap_or_else(|e| {
            self.err(path, e.0);
            Dist::Constant { value: 0.0 }
        })
    }

    /// The resource a call or poll target names: a resource id, or a handler id (its resource).
    fn target(&mut self, path: &str, name: &str) -> Option<usize> {
        if let Some(r) = self.res_ix.get(name) {
            return Some(*r);
        }
        if let Some(h) = self.handler_ix.get(name) {
            let runs_on = &self.s.handlers[*h].runs_on;
            if let Some(r) = self.res_ix.get(runs_on.as_str()) {
                return Some(*r);
            }
        }
        self.err(path, format!("`{name}` is not a resource or handler"));
        None
    }

    fn link(&mut self, from: usize, to: usize) -> usize {
        *self.link_ix.entry((from, to)).or_insert_with(|| {
            self.links.push(LinkDef {
                from,
                to,
                latency: None,
                loss: 0.0,
                soft: false,
                declared: false,
            });
            self.links.len() - 1
        })
    }

    /// The index of the operation `name` of the handler running on `to`
    /// ([`ANY_OP`] when `name` is absent: drawn by weight); an error at
    /// `{path}.operation` when it has no such operation.
    fn operation(
        &mut self,
        path: &str,
        resources: &[ResourceDef],
        callee: &str,
        to: usize,
        name: &Option<String>,
    ) -> u16 {
        let Some(name) = name else {
            return ANY_OP;
        };
        let s = self.s;
        let found = resources[to].handler.and_then(|th| {
            s.handlers[th]
                .operations
                .iter()
                .position(|o| &o.name == name)
        });
        match found {
            Some(i) => i as u16,
            None => {
                self.err(
                    format!("{path}.operation"),
                    format!("`{callee}` has no operation `{name}`"),
                );
                ANY_OP
            }
        }
    }

    fn run(&mut self, defaults: &[spec::ResourceTypeFailureModes]) -> Model {
        let s = self.s;
        // Resources.
        let mut resources = Vec::with_capacity(s.resources.len());
        for (i, r) in s.resources.iter().enumerate() {
            let p = format!("resources[{}]", r.id);
            let service = r
                .service_time
                .as_ref()
                .map(|d| self.dist(&format!("{p}.service_time"), d));
            // At most u16::MAX by the spec's type; indices run below it, so
            // they never meet `ALL_REPLICAS`.
            let replicas = r.replicas;
            resources.push(ResourceDef {
                id: r.id.clone(),
                kind: r.kind,
                criticality: r.criticality,
                replicas: replicas.max(1),
                concurrency: r.concurrency.unwrap_or(u32::MAX).max(1),
                queue_limit: r.queue_limit.unwrap_or(u32::MAX),
                service,
                health_check: r.health_check.as_ref().map(secs).unwrap_or_default(),
                age: r.age.as_ref().map(|a| a.secs()),
                in_links: Vec::new(),
                handler: None,
            });
            debug_assert_eq!(resources.len(), i + 1);
        }
        // Declared links.
        for (i, d) in s.dependencies.iter().enumerate() {
            let p = format!("dependencies[{i}]");
            let (Some(from), Some(to)) = (
                self.target(&format!("{p}.from"), &d.from),
                self.target(&format!("{p}.to"), &d.to),
            ) else {
                continue;
            };
            let (latency, loss) = match &d.network {
                Some(n) => (
                    n.latency
                        .as_ref()
                        .map(|l| self.dist(&format!("{p}.network.latency"), l)),
                    n.loss,
                ),
                None => (None, 0.0),
            };
            let l = self.link(from, to);
            let def = &mut self.links[l];
            def.latency = latency;
            def.loss = loss;
            def.soft = d.kind == DependencyKind::Soft;
            def.declared = true;
        }
        // Handlers.
        for (hi, h) in s.handlers.iter().enumerate() {
            if let Some(r) = self.res_ix.get(h.runs_on.as_str()).copied() {
                resources[r].handler.get_or_insert(hi);
            }
        }
        let mut handlers = Vec::with_capacity(s.handlers.len());
        for h in &s.handlers {
            let hp = format!("handlers[{}]", h.id);
            let resource = self
                .target(&format!("{hp}.runs_on"), &h.runs_on)
                .unwrap_or(0);
            let mut breakers = 0;
            let mut ops = Vec::new();
            for op in &h.operations {
                let op_path = format!("{hp}.operations[{}]", op.name);
                let mut steps = Vec::new();
                for (si, step) in op.steps.iter().enumerate() {
                    let sp = format!("{op_path}.steps[{si}]");
                    match step {
                        Step::Call(c) => {
                            let Some(to) = self.target(&format!("{sp}.call"), &c.call) else {
                                continue;
                            };
                            let link = self.link(resource, to);
                            let op_ix = self.operation(&sp, &resources, &c.call, to, &c.operation);
                            let fallback_call = c.fallback.call().and_then(|f| {
                                let fp = format!("{sp}.fallback");
                                let fto = self.target(&format!("{fp}.call"), &f.call)?;
                                if fto == to {
                                    self.err(
                                        format!("{fp}.call"),
                                        format!(
                                            "the fallback calls `{}`, the resource whose failure it stands in for; name another resource",
                                            f.call
                                        ),
                                    );
                                }
                                Some(FallbackCallDef {
                                    link: self.link(resource, fto),
                                    op: self.operation(&fp, &resources, &f.call, fto, &f.operation),
                                    timeout: f.timeout.as_ref().map(secs),
                                })
                            });
                            let retry = match &c.retry {
                                None => RetryDef::NONE,
                                Some(r) => RetryDef {
                                    max_attempts: r.max_attempts.max(1),
                                    backoff: r.backoff,
                                    base: r.base.as_ref().map(secs).unwrap_or_default(),
                                    max: r.max.as_ref().map(secs).unwrap_or(SimDuration(u64::MAX)),
                                    jitter: r.jitter,
                                },
                            };
                            let breaker = c.circuit_breaker.as_ref().map(|b| {
                                breakers += 1;
                                (
                                    breakers - 1,
                                    BreakerDef {
                                        failure_rate: b.failure_rate,
                                        min_calls: b.min_calls,
                                        window: secs(&b.window),
                                        open_for: secs(&b.open_for),
                                    },
                                )
                            });
                            let soft = self.links[link].soft;
                            steps.push(StepDef::Call(CallDef {
                                link,
                                op: op_ix,
                                timeout: c.timeout.as_ref().map(secs),
                                retry,
                                breaker,
                                tolerate_failure: matches!(
                                    c.fallback,
                                    Fallback::Cached | Fallback::Skip
                                ) || soft,
                                fallback: c.fallback.clone(),
                                fallback_call,
                            }));
                        }
                        Step::Poll(p) => {
                            let Some(to) = self.target(&format!("{sp}.poll"), &p.poll) else {
                                continue;
                            };
                            let link = self.link(resource, to);
                            let ready_after =
                                self.dist(&format!("{sp}.ready_after"), &p.ready_after);
                            steps.push(StepDef::Poll(PollDef {
                                link,
                                interval: secs(&p.interval).max(SimDuration(1)),
                                ready_after,
                                timeout: secs(&p.timeout),
                            }));
                        }
                    }
                }
                ops.push(OpDef {
                    name: op.name.clone(),
                    steps,
                });
            }
            let total: f64 = h.operations.iter().map(|o| o.weight.max(0.0)).sum();
            let mut acc = 0.0;
            let cumulative_weights = h
                .operations
                .iter()
                .map(|o| {
                    acc += o.weight.max(0.0) / total.max(f64::MIN_POSITIVE);
                    acc
                })
                .collect();
            handlers.push(HandlerDef {
                id: h.id.clone(),
                resource,
                ops,
                cumulative_weights,
                slo: SloDef {
                    success_rate: h.slo.as_ref().and_then(|x| x.success_rate),
                    latency_p99: h
                        .slo
                        .as_ref()
                        .and_then(|x| x.latency_p99.as_ref().map(secs)),
                },
                hard_path: Vec::new(),
                breakers,
            });
        }
        for (l, def) in self.links.iter().enumerate() {
            resources[def.to].in_links.push(l);
        }
        // Hard paths, now that every link exists.
        for h in 0..handlers.len() {
            let mut path = Vec::new();
            let mut seen_handlers = vec![false; handlers.len()];
            hard_path(
                h,
                &handlers,
                &resources,
                &self.links,
                &mut seen_handlers,
                &mut path,
            );
            path.sort_unstable();
            path.dedup();
            handlers[h].hard_path = path;
        }
        // Workload.
        let mut workloads = Vec::new();
        let ids = crate::spec::workload_ids(&s.workload);
        for (i, w) in s.workload.iter().enumerate() {
            let Some(&handler) = self.handler_ix.get(w.handler.as_str()) else {
                self.err(
                    format!("workload[{i}].handler"),
                    format!("no handler `{}`", w.handler),
                );
                continue;
            };
            let diurnal = match &w.diurnal {
                None => None,
                Some(v) => match <[f64; 24]>::try_from(v.as_slice()) {
                    Ok(a) => Some(a),
                    Err(_) => {
                        self.err(
                            format!("workload[{i}].diurnal"),
                            format!("needs 24 values, got {}", v.len()),
                        );
                        None
                    }
                },
            };
            workloads.push(WorkloadDef {
                id: ids[i].clone(),
                handler,
                rate: w.arrivals.rate.per_sec(),
                diurnal,
            });
        }
        // Failure processes.
        let mut faults = Vec::new();
        for (ri, r) in s.resources.iter().enumerate() {
            let (modes, origin): (&[spec::FailureModeSpec], String) = match &r.failure_modes {
                Some(m) => (m, format!("resources[{}].failure_modes", r.id)),
                None => match s
                    .resource_failure_modes
                    .iter()
                    .position(|t| t.resource_type == r.kind)
                {
                    Some(t) => (
                        &s.resource_failure_modes[t].failure_modes,
                        format!("resource_failure_modes[{t}].failure_modes"),
                    ),
                    None => match defaults.iter().find(|t| t.resource_type == r.kind) {
                        Some(t) => (&t.failure_modes, "built-in defaults".to_string()),
                        None => (&[], String::new()),
                    },
                },
            };
            for (mi, m) in modes.iter().enumerate() {
                let mp = format!("{origin}[{mi}]");
                let effect = self.effect(&mp, ri, m.mode, m.injection_parameters.as_ref());
                let time_between = self.dist(&format!("{mp}.time_between"), &m.time_between);
                let repair = self.dist(&format!("{mp}.repair"), &m.repair);
                let whole = m.scope == Scope::Resource || self.effects[effect].is_network();
                let scopes: Vec<FaultScope> = if whole {
                    vec![FaultScope::Resource]
                } else {
                    (0..resources[ri].replicas)
                        .map(FaultScope::Replica)
                        .collect()
                };
                for scope in scopes {
                    faults.push(FaultDef {
                        resource: ri,
                        mode: m.mode,
                        effect,
                        scope,
                        time_between: time_between.clone(),
                        repair: repair.clone(),
                        bias: 1.0,
                        origin: FaultOrigin::FailureMode,
                    });
                }
            }
        }
        // Injections.
        let mut injections = Vec::new();
        for inj in &s.injections {
            let ip = format!("injections[{}]", inj.id);
            let Some(resource) = self.target(&format!("{ip}.target"), &inj.target) else {
                continue;
            };
            let effect = self.effect(&ip, resource, inj.mode, inj.injection_parameters.as_ref());
            // An injected crash takes down one replica unless `replicas_affected` says more.
            if let Effect::Crash { replicas: r @ None } = &mut self.effects[effect] {
                *r = Some(1);
            }
            injections.push(InjectionDef {
                id: inj.id.clone(),
                resource,
                mode: inj.mode,
                effect,
                at: secs(&inj.at),
                duration: secs(&inj.duration),
            });
        }
        let horizon = s
            .horizon
            .as_ref()
            .map(secs)
            .unwrap_or_else(|| secs(&s.risk.window));
        let drain = drain_time(&handlers);
        let mut model = Model {
            resources,
            links: std::mem::take(&mut self.links),
            handlers,
            workloads,
            effects: std::mem::take(&mut self.effects),
            faults,
            injections,
            horizon,
            drain,
            in_flight_cap: crate::limits::DEFAULT_IN_FLIGHT_CAP,
        };
        model.in_flight_cap = crate::limits::default_cap(&model);
        model
    }

    fn effect(
        &mut self,
        path: &str,
        resource: usize,
        mode: FailureMode,
        p: Option<&spec::InjectionParameters>,
    ) -> EffectIx {
        let default = spec::InjectionParameters::default();
        let p = p.unwrap_or(&default);
        let added = |c: &mut Self| match &p.added {
            Some(d) => c.dist(&format!("{path}.injection_parameters.added"), d),
            None => Dist::Constant { value: 0.1 },
        };
        let links = |c: &mut Self| -> Option<Vec<LinkIx>> {
            p.links.as_ref().map(|names| {
                names
                    .iter()
                    .filter_map(|n| c.res_ix.get(n.as_str()).copied())
                    .filter_map(|from| c.link_ix.get(&(from, resource)).copied())
                    .collect()
            })
        };
        let e = match mode {
            FailureMode::ProcessCrash => Effect::Crash {
                replicas: p
                    .replicas_affected
                    .map(|k| k.min(u32::from(u16::MAX)) as u16),
            },
            FailureMode::LatencySpike => Effect::Latency { added: added(self) },
            FailureMode::ErrorCode => Effect::ErrorCode {
                fraction: p.error_fraction.unwrap_or(1.0),
                code: p.code.unwrap_or(503),
            },
            FailureMode::CpuThrottle => Effect::CpuThrottle {
                factor: 1.0 / (1.0 - p.percent.unwrap_or(50.0).clamp(0.0, 99.0) / 100.0),
            },
            FailureMode::MemoryStarvation => Effect::MemoryStarvation {
                percent: p.percent.unwrap_or(50.0).clamp(0.0, 100.0),
            },
            FailureMode::DiskError => Effect::DiskError {
                fraction: p.error_fraction.unwrap_or(0.1),
                slowdown: p.slowdown.unwrap_or(2.0).max(1.0),
            },
            FailureMode::DiskIoStarvation => Effect::DiskIoStarvation {
                slowdown: p.slowdown.unwrap_or(5.0).max(1.0),
            },
            FailureMode::NetworkLatency => Effect::NetworkLatency {
                added: added(self),
                links: links(self),
            },
            FailureMode::NetworkPartition => Effect::NetworkPartition { links: links(self) },
            FailureMode::DependencyFailure => Effect::Unreachable,
        };
        self.effects.push(e);
        self.effects.len() - 1
    }
}

/// Collects the resources whose loss stops handler `h`: its own resource,
/// and for every step whose failure fails the request, the callee (and, when
/// a handler runs there, that handler's hard path).
fn hard_path(
    h: usize,
    handlers: &[HandlerDef],
    resources: &[ResourceDef],
    links: &[LinkDef],
    seen: &mut [bool],
    out: &mut Vec<usize>,
) {
    if seen[h] {
        return;
    }
    seen[h] = true;
    out.push(handlers[h].resource);
    for op in &handlers[h].ops {
        for step in &op.steps {
            let to = match step {
                StepDef::Call(c) if c.hard() => links[c.link].to,
                StepDef::Poll(p) => {
                    out.push(links[p.link].to);
                    continue;
                }
                StepDef::Call(_) => continue,
            };
            out.push(to);
            if let Some(th) = resources[to].handler {
                hard_path(th, handlers, resources, links, seen, out);
            }
        }
    }
}

/// How long requests in flight at the horizon may still take: ten times the
/// longest single wait any step can impose, at least a minute, at most an hour.
fn drain_time(handlers: &[HandlerDef]) -> SimDuration {
    let mut longest = SimDuration::ZERO;
    for h in handlers {
        for op in &h.ops {
            for s in &op.steps {
                let d = match s {
                    StepDef::Call(c) => {
                        let per = c.timeout.unwrap_or_default();
                        let fallback = c.fallback_call.and_then(|f| f.timeout).unwrap_or_default();
                        SimDuration(per.0.saturating_mul(u64::from(c.retry.max_attempts)))
                            + fallback
                    }
                    StepDef::Poll(p) => p.timeout,
                };
                longest = longest.max(d);
            }
        }
    }
    SimDuration(longest.0.saturating_mul(10))
        .clamp(SimDuration::from_secs(60), SimDuration::from_secs(3600))
}
