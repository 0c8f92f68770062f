//! Loading scenario files: parsing (YAML, TOML, JSON), precise errors,
//! validation, variants and the JSON Schema.
//!
//! ```no_run
//! use std::path::Path;
//! match sim_engine::scenario::load(Path::new("scenarios/checkout.yaml")) {
//!     Ok(loaded) => println!("{} resources", loaded.scenario.resources.len()),
//!     Err(e) => eprintln!("{e}"), // every problem, one per line, with file:line:column
//! }
//! ```
//!
//! How problems are found: the file is parsed into a generic tree plus a map
//! from field path to line and column; the tree is deserialized into
//! [`Scenario`], removing each offending field and retrying so that every
//! parse problem is reported; then, when the file parsed cleanly, the
//! semantic checks of [`sim_models::validate::validate`] run, empirical
//! distribution files are read and every variant is applied and checked.

mod deser;
mod empirical;
mod path;
mod tree;
mod variant;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sim_models::spec::Scenario;

pub use crate::inputs::{FileAccess, MAX_SCENARIO_BYTES};
pub use variant::apply_variant;

/// A scenario file's format, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.yaml`, `.yml`
    Yaml,
    /// `.toml`
    Toml,
    /// `.json`
    Json,
}

impl Format {
    /// The format for `path`'s extension, or a message saying which are known.
    pub fn from_path(path: &Path) -> Result<Format, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("yaml" | "yml") => Ok(Format::Yaml),
            Some("toml") => Ok(Format::Toml),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(format!(
                "unknown scenario format `.{other}`: use a .yaml, .yml, .toml or .json file"
            )),
            None => Err(
                "cannot tell the scenario format without an extension: use a .yaml, .yml, .toml or .json file"
                    .to_string(),
            ),
        }
    }
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (empty when not known, e.g. from [`apply_variant`]).
    pub file: PathBuf,
    /// The field path, like `resources[2].replicas`; empty for the whole file.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, and where possible how to fix it.
    pub message: String,
}

impl Problem {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            file: PathBuf::new(),
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

/// `file:line:column: path: message`, leaving out the parts that are unknown.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.as_os_str().is_empty() {
            write!(f, "{}", self.file.display())?;
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
                if let Some(c) = self.column {
                    write!(f, ":{c}")?;
                }
            }
            f.write_str(": ")?;
        } else if let Some(l) = self.line {
            write!(f, "line {l}")?;
            if let Some(c) = self.column {
                write!(f, ", column {c}")?;
            }
            f.write_str(": ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A scenario file that could not be loaded: every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The problems, in file order where positions are known.
    pub problems: Vec<Problem>,
}

impl LoadError {
    /// The problems.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// One problem per line.
impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// A loaded, validated scenario.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// The file it came from.
    pub file: PathBuf,
    /// Content hash of the file's bytes, its algorithm named
    /// (`sha256:<64 hex digits>`; [`crate::provenance::sha256`]).
    pub source_hash: String,
    /// The file's bytes, as read (a run directory keeps a copy).
    pub source: std::sync::Arc<[u8]>,
    /// Samples of every empirical distribution (base and variants), in
    /// seconds, by (file as written in the scenario, column).
    pub empirical: BTreeMap<(String, String), Vec<f64>>,
    /// Where the files the scenario names may be (`historical_faults:` is
    /// read later, by the same rule).
    pub file_access: FileAccess,
    /// What parsed but deserves a word (a YAML tag Preflight ignores).
    pub warnings: Vec<Problem>,
}

impl Loaded {
    /// The samples of every empirical distribution, as the compilers
    /// ([`sim_models::compile::compile`], the service-path model) take them.
    pub fn empirical_tables(&self) -> sim_models::compile::Empirical {
        self.empirical
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Every file the run read besides the scenario — empirical distributions,
    /// `historical_faults:`, the calibration map — with its absolute path and
    /// content hash, in that order (each file once). A file that cannot be read
    /// again is listed with an empty hash (the run read it moments before).
    pub fn input_files(&self, calibration: Option<&Path>) -> Vec<sim_output::manifest::InputInfo> {
        let mut named: Vec<(&'static str, PathBuf)> = Vec::new();
        let resolve =
            |file: &str| crate::inputs::resolve_named(&self.file, file, self.file_access).ok();
        for (file, _column) in self.empirical.keys() {
            if let Some(p) = resolve(file) {
                named.push(("empirical", p));
            }
        }
        if let Some(p) = self.scenario.historical_faults.as_deref().and_then(resolve) {
            named.push(("historical_faults", p));
        }
        if let Some(c) = calibration {
            named.push(("calibration", c.to_path_buf()));
        }
        let mut out: Vec<sim_output::manifest::InputInfo> = Vec::new();
        for (role, path) in named {
            let path_s = crate::provenance::absolute(&path).display().to_string();
            if out.iter().any(|i| i.path == path_s && i.role == role) {
                continue;
            }
            let (sha, bytes) =
                match crate::inputs::read_regular(&path, crate::inputs::MAX_DATA_FILE_BYTES) {
                    Ok(b) => (crate::provenance::sha256(&b), b.len() as u64),
                    Err(_) => (String::new(), 0),
                };
            out.push(sim_output::manifest::InputInfo {
                role: role.to_owned(),
                path: path_s,
                sha256: sha,
                bytes,
            });
        }
        out
    }
}

/// Reads, parses and validates a scenario file; the format comes from the
/// extension. Returns every problem found. Files the scenario names must be
/// in its folder ([`load_with`] to allow others).
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    load_with(path, FileAccess::ScenarioFolder)
}

/// [`load`], with the rule for where the files the scenario names may be.
/// The scenario itself must be a regular file of at most
/// [`MAX_SCENARIO_BYTES`].
pub fn load_with(path: &Path, access: FileAccess) -> Result<Loaded, LoadError> {
    let fail = |msg: String| LoadError {
        problems: vec![Problem {
            file: path.to_path_buf(),
            ..Problem::at("", msg)
        }],
    };
    let format = Format::from_path(path).map_err(fail)?;
    let bytes = crate::inputs::read_regular(path, MAX_SCENARIO_BYTES).map_err(fail)?;
    load_bytes_with(&bytes, format, path, access)
}

/// Parses and validates scenario text as if it were the file `file` (used
/// for messages and to resolve the relative paths of empirical files).
pub fn load_bytes(bytes: &[u8], format: Format, file: &Path) -> Result<Loaded, LoadError> {
    load_bytes_with(bytes, format, file, FileAccess::ScenarioFolder)
}

/// [`load_bytes`], with the rule for where named files may be.
pub fn load_bytes_with(
    bytes: &[u8],
    format: Format,
    file: &Path,
    access: FileAccess,
) -> Result<Loaded, LoadError> {
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(LoadError {
            problems: vec![Problem {
                file: file.to_path_buf(),
                ..Problem::at(
                    "",
                    format!(
                        "the file is {}, over the limit of {} for a scenario (docs/limits.md)",
                        crate::inputs::format_bytes(bytes.len() as u64),
                        crate::inputs::format_bytes(MAX_SCENARIO_BYTES)
                    ),
                )
            }],
        });
    }
    let source_hash = crate::provenance::sha256(bytes);
    let with_file = |mut problems: Vec<Problem>| {
        for p in &mut problems {
            p.file = file.to_path_buf();
        }
        // File order; problems without a position keep their place at the end.
        problems.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
        LoadError { problems }
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => {
            let (line, column) = tree::line_col(
                std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
                e.valid_up_to(),
            );
            return Err(with_file(vec![Problem {
                line: Some(line),
                column: Some(column),
                ..Problem::at("", "the file is not UTF-8 text")
            }]));
        }
    };
    let to_problem = |e: tree::SyntaxError| Problem {
        line: e.pos.map(|p| p.0),
        column: e.pos.map(|p| p.1),
        ..Problem::at(e.path, e.message)
    };
    let tree::Parsed {
        value,
        positions,
        warnings,
    } = match tree::parse(text, format) {
        Ok(p) => p,
        Err(errors) => return Err(with_file(errors.into_iter().map(to_problem).collect())),
    };
    let warnings: Vec<Problem> = warnings
        .into_iter()
        .map(|w| Problem {
            file: file.to_path_buf(),
            ..to_problem(w)
        })
        .collect();
    let locate = |path: String, message: String| {
        let pos = positions.lookup(&path);
        Problem {
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            ..Problem::at(path, message)
        }
    };
    if !value.is_object() {
        let msg = match &value {
            serde_json::Value::Null => {
                "the file is empty: a scenario is a map with at least `name`".to_string()
            }
            _ => {
                "a scenario is a map (`name: ...`, `resources: ...`), not a single value or a list"
                    .to_string()
            }
        };
        return Err(with_file(vec![locate(String::new(), msg)]));
    }
    let scenario: Scenario = deser::deserialize_all(&value).map_err(|errs| {
        with_file(
            errs.into_iter()
                .map(|(p, m)| locate(path::render(&p), m))
                .collect(),
        )
    })?;

    let mut problems: Vec<Problem> = sim_models::validate::validate(&scenario)
        .into_iter()
        .map(|(p, m)| locate(p, m))
        .collect();
    let (mut samples, empirical_problems) = empirical::read_all(&scenario, file, access);
    if let Some(h) = &scenario.historical_faults {
        // Read when variants are prepared; where it may be is checked now.
        match crate::inputs::resolve_named(file, h, access) {
            Ok(p) => {
                if let Err(m) = crate::inputs::open_regular(&p, crate::inputs::MAX_DATA_FILE_BYTES)
                {
                    problems.push(locate("historical_faults".into(), format!("`{h}`: {m}")));
                }
            }
            Err(m) => problems.push(locate("historical_faults".into(), m)),
        }
    }
    if let Some(t) = &scenario.telemetry {
        // Read and forecast when a run plans; where it may be is checked now.
        let at = if value.get("telemetry").is_some_and(|v| v.is_object()) {
            "telemetry.file"
        } else {
            "telemetry"
        };
        match crate::inputs::resolve_named(file, &t.file, access) {
            Ok(p) => {
                if let Err(m) = crate::inputs::open_regular(&p, crate::inputs::MAX_DATA_FILE_BYTES)
                {
                    problems.push(locate(at.into(), format!("`{}`: {m}", t.file)));
                }
            }
            Err(m) => problems.push(locate(at.into(), m)),
        }
    }
    problems.extend(empirical_problems.into_iter().map(|(p, m)| locate(p, m)));
    if problems.is_empty() {
        for v in &scenario.variants {
            match apply_variant(&scenario, v) {
                Ok(vs) => {
                    let (more, errs) = empirical::read_all(&vs, file, access);
                    for (k, s) in more {
                        samples.entry(k).or_insert(s);
                    }
                    problems.extend(errs.into_iter().map(|(p, m)| {
                        locate(
                            format!("variants[{}]", variant_index(&scenario, &v.name)),
                            format!("{p}: {m}"),
                        )
                    }));
                }
                Err(ps) => problems.extend(ps.into_iter().map(|p| locate(p.path, p.message))),
            }
        }
    }
    if !problems.is_empty() {
        return Err(with_file(problems));
    }
    Ok(Loaded {
        scenario,
        file: file.to_path_buf(),
        source_hash,
        source: std::sync::Arc::from(bytes),
        empirical: samples,
        file_access: access,
        warnings,
    })
}

fn variant_index(s: &Scenario, name: &str) -> usize {
    s.variants
        .iter()
        .position(|v| v.name == name)
        .unwrap_or_default()
}

/// The semantic checks of [`sim_models::validate::validate`] as problems
/// (without file or position: [`load`] adds those).
pub fn validate(s: &Scenario) -> Vec<Problem> {
    sim_models::validate::validate(s)
        .into_iter()
        .map(|(p, m)| Problem::at(p, m))
        .collect()
}

/// The JSON Schema of the scenario format (draft 2020-12), pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// 64-bit FNV-1a of `bytes` as 16 hex digits.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    format!("{:016x}", sim_core::fnv1a(bytes))
}
