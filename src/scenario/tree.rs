//! Parsing a file into a generic tree (`serde_json::Value`) plus a map from
//! field path to (line, column), for YAML, TOML and JSON alike.

use std::collections::HashMap;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser};

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
    pub(crate) message: String,
    pub(crate) pos: Option<(usize, usize)>,
}

/// Parses `src` into a value tree and the positions of its fields.
pub(crate) fn parse(src: &str, format: Format) -> Result<(Value, Positions), SyntaxError> {
    match format {
        Format::Yaml => {
            let value = parse_yaml(src)?;
            Ok((value, yaml_positions(src)))
        }
        Format::Json => {
            let value: Value = serde_json::from_str(src).map_err(|e| SyntaxError {
                message: json_message(&e),
                pos: (e.line() > 0).then(|| (e.line(), e.column().max(1))),
            })?;
            // JSON is (nearly) YAML: its event positions are good enough.
            Ok((value, yaml_positions(src)))
        }
        Format::Toml => {
            let value: Value = toml::from_str(src).map_err(|e| SyntaxError {
                message: e.message().trim().to_string(),
                pos: e.span().map(|s| line_col(src, s.start)),
            })?;
            Ok((value, toml_positions(src)))
        }
    }
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
            Err(SyntaxError { message, pos })
        }
    }
}

/// 1-based (line, column) of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

enum Frame {
    Map {
        path: Vec<Seg>,
        key: Option<String>,
        expecting_key: bool,
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
/// field path starts. Best effort: stops quietly at the first syntax error.
fn yaml_positions(src: &str) -> Positions {
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
            }) => {
                if *expecting_key {
                    *expecting_key = false;
                    *key = None;
                    if let Event::Scalar(text, ..) = &event {
                        let mut p = path.clone();
                        p.push(Seg::Key(text.to_string()));
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
        if opens {
            stack.push(match (child_path, &event) {
                (Some(path), Event::MappingStart(..)) => Frame::Map {
                    path,
                    key: None,
                    expecting_key: true,
                },
                (Some(path), _) => Frame::Seq { path, next: 0 },
                (None, _) => Frame::Skip { depth: 1 },
            });
        }
    }
    pos
}

/// Records the positions of TOML keys and array elements.
fn toml_positions(src: &str) -> Positions {
    use toml::de::{DeTable, DeValue};
    let mut pos = Positions::default();
    let Ok(root) = DeTable::parse(src) else {
        return pos;
    };
    pos.insert(&[], (1, 1));
    let mut work: Vec<(Vec<Seg>, &DeValue<'_>)> = Vec::new();
    for (k, v) in root.get_ref().iter() {
        let p = vec![Seg::Key(k.get_ref().to_string())];
        pos.insert(&p, line_col(src, k.span().start));
        work.push((p, v.get_ref()));
    }
    while let Some((path, v)) = work.pop() {
        match v {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    let mut p = path.clone();
                    p.push(Seg::Key(k.get_ref().to_string()));
                    pos.insert(&p, line_col(src, k.span().start));
                    work.push((p, v.get_ref()));
                }
            }
            DeValue::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    pos.insert(&p, line_col(src, v.span().start));
                    work.push((p, v.get_ref()));
                }
            }
            _ => {}
        }
    }
    pos
}
