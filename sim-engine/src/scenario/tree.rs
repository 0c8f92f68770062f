//! Parsing a file into a generic tree (`serde_json::Value`) plus a map from
//! field path to (line, column), for YAML, TOML and JSON alike.

use std::collections::HashMap;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

use super::Format;
use super::path::{Seg, parent, render};

/// Where each field path starts in the file (1-based line and column).
/// For a map entry this is the position of its key.
#[derive(Debug, Default, Clone)]
pub(crate) struct Positions(HashMap<String, (usize, usize)>);

impl Positions {
    fn insert(&mut self, path: &[Seg], pos: (usize, usize)) {
        self.0.entry(render(path)).or_insert(pos);
    }

    /// The field whose key or value starts last at or before `at`: where a
    /// syntax error at `at` most likely is (the deepest on ties).
    fn path_at(&self, at: (usize, usize)) -> Option<&str> {
        self.0
            .iter()
            .filter(|(_, p)| **p <= at)
            .max_by(|a, b| a.1.cmp(b.1).then(a.0.len().cmp(&b.0.len())))
            .map(|(k, _)| k.as_str())
    }

    /// The position of `path`, or of its nearest ancestor the file shows.
    pub(crate) fn lookup(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = Some(path);
        while let Some(q) = p {
            if let Some(pos) = self.0.get(q) {
                return Some(*pos);
            }
            p = parent(q);
        }
        None
    }
}

/// A parse failure: message and, when known, the position.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    /// The field path, when the problem is in one value (empty otherwise).
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) pos: Option<(usize, usize)>,
}

impl SyntaxError {
    fn whole_file(message: String, pos: Option<(usize, usize)>) -> Self {
        SyntaxError {
            path: String::new(),
            message,
            pos,
        }
    }

    fn at(path: &[Seg], pos: (usize, usize), message: String) -> Self {
        SyntaxError {
            path: render(path),
            message,
            pos: Some(pos),
        }
    }
}

/// A parsed file: the value tree, where each field is, and what parsed but
/// deserves a word (a YAML tag Preflight does not act on).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) value: Value,
    pub(crate) positions: Positions,
    pub(crate) warnings: Vec<SyntaxError>,
}

/// Parses `src` into a value tree and the positions of its fields.
///
/// One rule for the three formats: a key appears once per map (YAML and
/// TOML parsers reject duplicates; JSON's is checked here), and a number is
/// finite (TOML's `nan`/`inf` and YAML's `.nan`/`.inf` are errors, not
/// values silently read as missing).
pub(crate) fn parse(src: &str, format: Format) -> Result<Parsed, Vec<SyntaxError>> {
    // A syntax error names the field it is in, where the structure read so
    // far tells (`resources[0].service_time.mean: ...`).
    let with_path = |mut e: SyntaxError, scan: fn(&str) -> Scan| {
        if e.path.is_empty()
            && let Some(at) = e.pos
            && let Some(p) = scan(src).positions.path_at(at)
        {
            e.path = p.to_string();
        }
        vec![e]
    };
    let (value, scan) = match format {
        Format::Yaml => {
            let value = parse_yaml(src).map_err(|e| with_path(e, yaml_scan))?;
            (value, yaml_scan(src))
        }
        Format::Json => {
            let value: Value = serde_json::from_str(src).map_err(|e| {
                with_path(
                    SyntaxError::whole_file(
                        json_message(&e),
                        (e.line() > 0).then(|| (e.line(), e.column().max(1))),
                    ),
                    yaml_scan,
                )
            })?;
            // JSON is (nearly) YAML: its events give positions and duplicates.
            (value, yaml_scan(src))
        }
        Format::Toml => {
            let value: Value = toml::from_str(src).map_err(|e| {
                with_path(
                    SyntaxError::whole_file(
                        toml_message(e.message()),
                        e.span().map(|s| line_col(src, s.start)),
                    ),
                    toml_scan,
                )
            })?;
            (value, toml_scan(src))
        }
    };
    if !scan.errors.is_empty() {
        return Err(scan.errors);
    }
    Ok(Parsed {
        value,
        positions: scan.positions,
        warnings: scan.warnings,
    })
}

/// The toml crate deserializes into a JSON value tree here, so some of its
/// messages speak of JSON: say TOML.
fn toml_message(m: &str) -> String {
    m.trim()
        .replace("JSON number", "number")
        .replace("JSON", "TOML")
}

/// What a walk over a file's structure found besides the values.
#[derive(Debug, Default)]
struct Scan {
    positions: Positions,
    errors: Vec<SyntaxError>,
    warnings: Vec<SyntaxError>,
}

impl Scan {
    fn non_finite(&mut self, path: &[Seg], pos: (usize, usize), text: &str) {
        self.errors.push(SyntaxError::at(
            path,
            pos,
            format!(
                "`{text}` is not a finite number; write a number (or quote it if a string is meant)"
            ),
        ));
    }
}

/// YAML 1.2 core-schema spellings of NaN and infinity (plain scalars only).
fn yaml_non_finite(text: &str) -> bool {
    let t = text.strip_prefix(['+', '-']).unwrap_or(text);
    matches!(t, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN")
}

fn json_message(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; we report those separately.
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn parse_yaml(src: &str) -> Result<Value, SyntaxError> {
    use serde_saphyr::MessageFormatter;
    // YAML 1.2 booleans only: `y`, `no`, `on` stay strings (ids, names).
    let options = serde_saphyr::options! { strict_booleans: true };
    match serde_saphyr::from_str_with_options::<Value>(src, options) {
        Ok(v) => Ok(v),
        Err(e) => {
            let inner = e.without_snippet();
            let message = serde_saphyr::UserMessageFormatter
                .format_message(inner)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let pos = e
                .location()
                .filter(|l| l.line() > 0)
                .map(|l| (l.line() as usize, (l.column() as usize).max(1)));
            Err(SyntaxError::whole_file(message, pos))
        }
    }
}

/// 1-based (line, column) of a byte offset. For one lookup; many lookups
/// in the same text go through a [`LineIndex`].
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(src).line_col(offset)
}

/// The byte offsets where each line of a text starts: (line, column) of an
/// offset in O(log lines + line length) instead of a scan from the start.
pub(crate) struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { src, starts }
    }

    /// 1-based (line, column in characters) of a byte offset (clamped to
    /// the text, and back to a character boundary).
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let col = self.src[start..offset].chars().count() + 1;
        (line, col)
    }
}

enum Frame {
    Map {
        path: Vec<Seg>,
        key: Option<String>,
        expecting_key: bool,
        /// Keys seen so far, with where each was first written.
        seen: HashMap<String, (usize, usize)>,
    },
    Seq {
        path: Vec<Seg>,
        next: usize,
    },
    /// A complex map key, ignored until it ends.
    Skip {
        depth: usize,
    },
}

/// Walks the YAML event stream of the first document, recording where each
/// field path starts, duplicate keys, non-finite numbers and tags. Best
/// effort: stops quietly at the first syntax error (the parser reports it).
fn yaml_scan(src: &str) -> Scan {
    let mut scan = Scan::default();
    let mut pos = Positions::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut started = false;
    for item in Parser::new_from_str(src) {
        let Ok((event, span)) = item else { break };
        let at = (span.start.line(), span.start.col() + 1);
        let (opens, closes, is_node) = match &event {
            Event::MappingStart(..) | Event::SequenceStart(..) => (true, false, true),
            Event::MappingEnd | Event::SequenceEnd => (false, true, false),
            Event::Scalar(..) | Event::Alias(..) => (false, false, true),
            Event::DocumentEnd => break,
            _ => (false, false, false),
        };
        if closes {
            match stack.last_mut() {
                Some(Frame::Skip { depth }) if *depth > 1 => *depth -= 1,
                _ => {
                    stack.pop();
                }
            }
            continue;
        }
        if !is_node {
            continue;
        }
        // Where does this node go?
        let child_path: Option<Vec<Seg>> = match stack.last_mut() {
            None => {
                if started {
                    break;
                }
                started = true;
                pos.insert(&[], at);
                Some(Vec::new())
            }
            Some(Frame::Skip { depth }) => {
                if opens {
                    *depth += 1;
                }
                continue;
            }
            Some(Frame::Map {
                path,
                key,
                expecting_key,
                seen,
            }) => {
                if *expecting_key {
                    *expecting_key = false;
                    *key = None;
                    if let Event::Scalar(text, ..) = &event {
                        let mut p = path.clone();
                        p.push(Seg::Key(text.to_string()));
                        if let Some(first) = seen.get(text.as_ref()) {
                            scan.errors.push(SyntaxError::at(
                                &p,
                                at,
                                format!(
                                    "duplicate key `{text}` (first at line {}); a key appears once per map",
                                    first.0
                                ),
                            ));
                        } else {
                            seen.insert(text.to_string(), at);
                        }
                        pos.insert(&p, at);
                        *key = Some(text.to_string());
                    }
                    if opens {
                        stack.push(Frame::Skip { depth: 1 });
                    }
                    continue;
                }
                *expecting_key = true;
                key.take().map(|k| {
                    let mut p = path.clone();
                    p.push(Seg::Key(k));
                    p
                })
            }
            Some(Frame::Seq { path, next }) => {
                let mut p = path.clone();
                p.push(Seg::Index(*next));
                *next += 1;
                pos.insert(&p, at);
                Some(p)
            }
        };
        if let Some(p) = &child_path {
            let tag = match &event {
                Event::Scalar(text, style, _, tag) => {
                    if *style == ScalarStyle::Plain && tag.is_none() && yaml_non_finite(text) {
                        scan.non_finite(p, at, text);
                    }
                    tag.as_deref()
                }
                Event::MappingStart(_, _, tag) | Event::SequenceStart(_, _, tag) => tag.as_deref(),
                _ => None,
            };
            if let Some(tag) = tag.filter(|t| t.handle() != "tag:yaml.org,2002:") {
                scan.warnings.push(SyntaxError::at(
                    p,
                    at,
                    format!("the YAML tag `{tag}` is ignored: Preflight reads the value as if it had none"),
                ));
            }
        }
        if opens {
            stack.push(match (child_path, &event) {
                (Some(path), Event::MappingStart(..)) => Frame::Map {
                    path,
                    key: None,
                    expecting_key: true,
                    seen: HashMap::new(),
                },
                (Some(path), _) => Frame::Seq { path, next: 0 },
                (None, _) => Frame::Skip { depth: 1 },
            });
        }
    }
    scan.positions = pos;
    scan
}

/// Records the positions of TOML keys and array elements, and non-finite
/// floats (`nan`, `inf`).
fn toml_scan(src: &str) -> Scan {
    use toml::de::{DeTable, DeValue};
    let mut scan = Scan::default();
    let Ok(root) = DeTable::parse(src) else {
        return scan;
    };
    let mut pos = Positions::default();
    pos.insert(&[], (1, 1));
    let lines = LineIndex::new(src);
    let line_col = |offset: usize| lines.line_col(offset);
    let mut nan_at: Vec<(Vec<Seg>, String)> = Vec::new();
    let mut work: Vec<(Vec<Seg>, &DeValue<'_>)> = Vec::new();
    for (k, v) in root.get_ref().iter() {
        let p = vec![Seg::Key(k.get_ref().to_string())];
        pos.insert(&p, line_col(k.span().start));
        work.push((p, v.get_ref()));
    }
    while let Some((path, v)) = work.pop() {
        match v {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    let mut p = path.clone();
                    p.push(Seg::Key(k.get_ref().to_string()));
                    pos.insert(&p, line_col(k.span().start));
                    work.push((p, v.get_ref()));
                }
            }
            DeValue::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    pos.insert(&p, line_col(v.span().start));
                    work.push((p, v.get_ref()));
                }
            }
            DeValue::Float(f) => {
                let text = f.as_str();
                if text.contains("nan") || text.contains("inf") {
                    nan_at.push((path, text.to_string()));
                }
            }
            _ => {}
        }
    }
    for (path, text) in nan_at {
        let at = pos.lookup(&render(&path)).unwrap_or((1, 1));
        scan.non_finite(&path, at, &text);
    }
    scan.positions = pos;
    scan
}
