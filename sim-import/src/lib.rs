//! `preflight import`: what users already describe — CloudFormation
//! templates, Kubernetes manifests, Compose files, tracing call graphs —
//! read into a dependency graph with the evidence for every edge
//! ([`graph::Graph`], `--graph`) and a scenario skeleton that validates and
//! runs as written ([`skeleton::scenario`]). `docs/importers.md` is the
//! reference.
//!
//! Pure Rust: YAML (with CloudFormation's `!Ref`-style tags) through the
//! parser serde-saphyr is built on ([`yaml`]), JSON through the same parser
//! (JSON is YAML), CSV with `csv`.

pub mod cfn;
pub mod edges;
pub mod graph;
pub mod k8s;
pub mod skeleton;
pub mod yaml;

use std::path::{Path, PathBuf};

use sim_engine::error::Error;

pub use graph::Graph;

/// What an input file is (`--from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An AWS CloudFormation template (JSON or YAML).
    CloudFormation,
    /// Kubernetes manifests (multi-document YAML).
    Kubernetes,
    /// A Compose file.
    Compose,
    /// A `caller,callee[,calls_per_s]` CSV.
    Edges,
    /// Jaeger's dependencies JSON.
    Jaeger,
}

impl Source {
    /// Every source, as `--from` names them.
    pub const ALL: [Source; 5] = [
        Source::CloudFormation,
        Source::Kubernetes,
        Source::Compose,
        Source::Edges,
        Source::Jaeger,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Source::CloudFormation => "cloudformation",
            Source::Kubernetes => "kubernetes",
            Source::Compose => "compose",
            Source::Edges => "edges",
            Source::Jaeger => "jaeger",
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Source::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown input kind `{s}`: expected one of {}",
                    Source::ALL.map(Source::name).join(", ")
                )
            })
    }
}

/// What an import read.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// The merged graph.
    pub graph: Graph,
    /// Each file and what it was read as; `true` when inferred from its
    /// content.
    pub files: Vec<(PathBuf, Source, bool)>,
}

/// Infers what `text` (of `path`) is, from its extension and content.
fn infer(path: &Path, text: &str) -> Result<Source, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "csv" {
        return Ok(Source::Edges);
    }
    let trimmed = text.trim_start();
    let json_list =
        trimmed.starts_with('[') || (trimmed.starts_with('{') && trimmed.contains("\"data\""));
    if json_list && let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let list = v
            .as_array()
            .or_else(|| v.get("data").and_then(|d| d.as_array()));
        if list.is_some_and(|l| {
            l.iter()
                .any(|d| d.get("parent").is_some() && d.get("child").is_some())
        }) {
            return Ok(Source::Jaeger);
        }
    }
    let docs = yaml::parse(text, path)?;
    if docs.iter().any(cfn::detect) {
        return Ok(Source::CloudFormation);
    }
    if docs.first().is_some_and(k8s::detect_compose) {
        return Ok(Source::Compose);
    }
    if docs.iter().any(k8s::detect) {
        return Ok(Source::Kubernetes);
    }
    Err(Error::input(format!(
        "preflight: import: {}: cannot tell what this is (not a CloudFormation template, Kubernetes manifest, Compose file, edge CSV or Jaeger dependencies): give --from",
        path.display()
    )))
}

/// Whether `path` holds something `import` reads and not a scenario: for
/// `analyze`, which imports templates first.
pub fn is_importable(path: &Path) -> Option<Source> {
    let text =
        sim_engine::inputs::read_regular(path, sim_engine::inputs::MAX_SCENARIO_BYTES).ok()?;
    let text = std::str::from_utf8(&text).ok()?;
    infer(path, text).ok().filter(|s| *s != Source::Edges)
}

/// Reads `files` (each as `from`, or as inferred) into one graph, merged by
/// node name.
pub fn import(files: &[PathBuf], from: Option<Source>) -> Result<Imported, Error> {
    let mut out = Imported::default();
    for path in files {
        let bytes = sim_engine::inputs::read_regular(path, sim_engine::inputs::MAX_DATA_FILE_BYTES)
            .map_err(|e| Error::input(format!("preflight: import: {}: {e}", path.display())))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Error::input(format!(
                "preflight: import: {}: not UTF-8 text",
                path.display()
            ))
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (source, inferred) = match from {
            Some(s) => (s, false),
            None => (infer(path, text)?, true),
        };
        let g = &mut out.graph;
        g.sources
            .push(format!("{} ({})", path.display(), source.name()));
        match source {
            Source::CloudFormation => {
                let docs = yaml::parse(text, path)?;
                let doc = docs.iter().find(|d| cfn::detect(d)).ok_or_else(|| {
                    Error::input(format!(
                        "preflight: import: {}: not a CloudFormation template (no `Resources` of AWS types)",
                        path.display()
                    ))
                })?;
                cfn::read(doc, path, g)?;
            }
            Source::Kubernetes => k8s::read(&yaml::parse(text, path)?, path, g)?,
            Source::Compose => {
                let docs = yaml::parse(text, path)?;
                let doc = docs
                    .first()
                    .filter(|d| k8s::detect_compose(d))
                    .ok_or_else(|| {
                        Error::input(format!(
                            "preflight: import: {}: not a Compose file (no `services:` map)",
                            path.display()
                        ))
                    })?;
                k8s::read_compose(doc, path, g)?;
            }
            Source::Edges => edges::read_csv(text, path, g)?,
            Source::Jaeger => edges::read_jaeger(text, path, g)?,
        }
        out.files.push((path.clone(), source, inferred));
    }
    if !out.graph.nodes.values().any(|n| n.runtime.is_some()) {
        return Err(Error::input(format!(
            "preflight: import: no runtime resource in {} (only {} nodes of kinds Preflight does not simulate)",
            out.graph.sources.join(", "),
            out.graph.nodes.len()
        )));
    }
    Ok(out)
}

/// The scenario skeleton of an import, named `name`.
pub fn scenario(imported: &Imported, name: &str) -> String {
    skeleton::scenario(&imported.graph, name)
}
