//! Deserializing a value tree into the spec types while collecting every
//! problem, not only the first, with the field path of each.
//!
//! serde stops at the first error. So: deserialize, record the error with its
//! path (from `serde_path_to_error`), remove the offending field or array
//! element from a working copy of the tree, and try again, until the tree
//! deserializes or nothing more can be removed. Array indices in later errors
//! are mapped back to the original file's indices.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::de::DeserializeOwned;
use serde_json::Value;
use sim_models::validate::suggest;

use super::path::Seg;

/// At most this many problems are collected from one tree.
const MAX_PROBLEMS: usize = 200;

/// Deserializes `value` as `T`, collecting every problem: `Ok` only when
/// there were none; otherwise the problems, each with its field path.
pub(crate) fn deserialize_all<T: DeserializeOwned>(
    value: &Value,
) -> Result<T, Vec<(Vec<Seg>, String)>> {
    let mut working = value.clone();
    let mut problems: Vec<(Vec<Seg>, String)> = Vec::new();
    // Original path of an array -> original indices removed from it.
    let mut removed: BTreeMap<Vec<Seg>, BTreeSet<usize>> = BTreeMap::new();
    // (original path of a map, key) removed from it.
    let mut deleted: HashSet<(Vec<Seg>, String)> = HashSet::new();
    let mut seen: HashSet<(Vec<Seg>, String)> = HashSet::new();
    let mut placeholders: HashSet<String> = HashSet::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(&working) {
            Ok(t) if problems.is_empty() => return Ok(t),
            Ok(_) => return Err(problems),
            Err(e) => e,
        };
        let raw = err.inner().to_string();
        let mut wpath = segments(err.path());
        // `id: 2024` or `name: true` where text is expected: take it as text.
        if raw.starts_with("invalid type: ")
            && raw.ends_with(", expected a string")
            && let Some(v) = lookup_mut(&mut working, &wpath)
            && (v.is_number() || v.is_boolean())
        {
            *v = Value::String(v.to_string());
            continue;
        }
        // Point unknown-field errors at the field itself.
        if let Some(field) = backticked_after(&raw, "unknown field `")
            && wpath.last() != Some(&Seg::Key(field.clone()))
            && lookup(&working, &wpath)
                .and_then(Value::as_object)
                .is_some_and(|m| m.contains_key(&field))
        {
            wpath.push(Seg::Key(field));
        }
        // The path may go deeper than the tree (inside a scalar): trim it.
        while !wpath.is_empty() && lookup(&working, &wpath).is_none() {
            wpath.pop();
        }
        let opath = to_original(&wpath, &removed);
        let missing = backticked_after(&raw, "missing field `");
        let consequence = missing
            .as_ref()
            .is_some_and(|m| deleted.contains(&(opath.clone(), m.clone())));
        let message = humanize(&raw);
        if !consequence && seen.insert((opath.clone(), message.clone())) {
            problems.push((opath.clone(), message));
        }
        if problems.len() >= MAX_PROBLEMS {
            return Err(problems);
        }
        if wpath.is_empty() {
            // A required top-level field is missing: put a placeholder in so
            // the rest of the file is still checked.
            match (missing, &mut working) {
                (Some(m), Value::Object(root)) if !placeholders.contains(&m) => {
                    root.insert(m.clone(), Value::String(String::new()));
                    placeholders.insert(m);
                    continue;
                }
                _ => return Err(problems),
            }
        }
        if let Some(Seg::Key(k)) = wpath.first()
            && wpath.len() == 1
            && placeholders.contains(k)
        {
            return Err(problems);
        }
        // Remove the offending node (for a missing field: the whole object).
        let Some(last) = wpath.pop() else {
            return Err(problems);
        };
        let oparent = to_original(&wpath, &removed);
        let Some(parent) = lookup_mut(&mut working, &wpath) else {
            return Err(problems);
        };
        match (parent, last) {
            (Value::Object(m), Seg::Key(k)) => {
                m.remove(&k);
                deleted.insert((oparent, k));
            }
            (Value::Array(a), Seg::Index(i)) if i < a.len() => {
                a.remove(i);
                let orig = match opath.last() {
                    Some(Seg::Index(o)) => *o,
                    _ => i,
                };
                removed.entry(oparent).or_default().insert(orig);
            }
            _ => return Err(problems),
        }
    }
}

fn segments(p: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for s in p.iter() {
        match s {
            Segment::Seq { index } => out.push(Seg::Index(*index)),
            Segment::Map { key } => out.push(Seg::Key(key.clone())),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    out
}

fn lookup<'v>(v: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    let mut cur = v;
    for s in path {
        cur = match (cur, s) {
            (Value::Object(m), Seg::Key(k)) => m.get(k)?,
            (Value::Array(a), Seg::Index(i)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn lookup_mut<'v>(v: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (cur, s) {
            (Value::Object(m), Seg::Key(k)) => m.get_mut(k)?,
            (Value::Array(a), Seg::Index(i)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Maps a path in the working tree to the path in the original tree, given
/// the array elements removed so far.
fn to_original(wpath: &[Seg], removed: &BTreeMap<Vec<Seg>, BTreeSet<usize>>) -> Vec<Seg> {
    let mut out = Vec::with_capacity(wpath.len());
    for s in wpath {
        match s {
            Seg::Index(w) => {
                let gone = removed.get(&out);
                let mut remaining = *w;
                let mut o = 0usize;
                loop {
                    if gone.is_some_and(|g| g.contains(&o)) {
                        o += 1;
                        continue;
                    }
                    if remaining == 0 {
                        break;
                    }
                    remaining -= 1;
                    o += 1;
                }
                out.push(Seg::Index(o));
            }
            key => out.push(key.clone()),
        }
    }
    out
}

/// The text between `prefix` and the next backtick.
fn backticked_after(s: &str, prefix: &str) -> Option<String> {
    let start = s.find(prefix)? + prefix.len();
    let len = s[start..].find('`')?;
    Some(s[start..start + len].to_string())
}

/// All backticked words after `from` in `s`.
fn backticked_list(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// Rewrites serde's messages into ones a user can act on.
pub(crate) fn humanize(raw: &str) -> String {
    let raw = raw.trim();
    // unknown field `replica`, expected one of `id`, `type`, ...
    for (prefix, what) in [("unknown field `", "field"), ("unknown variant `", "value")] {
        if let Some(rest) = raw.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            let word = &rest[..end];
            let tail = &rest[end + 1..];
            let expected = backticked_list(tail);
            // Keep any context between the word and the list ("for a call step").
            let context = tail
                .split(", expected")
                .next()
                .unwrap_or_default()
                .trim_end_matches(',');
            let mut msg = format!("unknown {what} `{word}`{context}");
            if tail.contains("there are no fields") {
                msg.push_str(" (this takes no fields)");
            } else if let Some(best) = suggest(word, expected.iter().copied()) {
                msg.push_str(&format!("; did you mean `{best}`?"));
            } else if !expected.is_empty() {
                let list: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
                msg.push_str(&format!(", expected one of {}", list.join(", ")));
            }
            return msg;
        }
    }
    // invalid type: integer `-1`, expected u32
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = raw.strip_prefix(prefix)
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            let got = got_text(got);
            return format!("expected {}, got {got}", expected_text(expected, &got));
        }
    }
    raw.to_string()
}

fn expected_text(e: &str, got: &str) -> String {
    match e.trim() {
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            let max = match e.trim() {
                "u8" => u8::MAX as u64,
                "u16" => u16::MAX as u64,
                "u32" => u32::MAX as u64,
                _ => u64::MAX,
            };
            if got.parse::<u64>().is_ok() {
                format!("a whole number up to {max}")
            } else {
                "a whole number, 0 or more".to_string()
            }
        }
        "i8" | "i16" | "i32" | "i64" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        "a boolean" => "`true` or `false`".to_string(),
        other => {
            if let Some(name) = other.strip_prefix("struct ") {
                format!("a map (a {})", words(name))
            } else if let Some(name) = other.strip_prefix("enum ") {
                format!("a name (a {})", words(name))
            } else if let Some(name) = other.strip_prefix("map") {
                format!("a map{name}")
            } else {
                other.to_string()
            }
        }
    }
}

/// `ResourceType` -> `resource type`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn got_text(g: &str) -> String {
    let g = g.trim();
    for prefix in ["integer ", "floating point ", "boolean ", "character "] {
        if let Some(v) = g.strip_prefix(prefix) {
            return v.trim_matches('`').to_string();
        }
    }
    match g {
        "map" => "a map".to_string(),
        "sequence" => "a list".to_string(),
        "unit value" | "null" => "nothing (null)".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanized_messages() {
        assert_eq!(
            humanize("invalid value: integer `-1`, expected u32"),
            "expected a whole number, 0 or more, got -1"
        );
        assert_eq!(
            humanize("invalid type: string \"x\", expected f64"),
            "expected a number, got string \"x\""
        );
        assert_eq!(
            humanize("unknown field `replica`, expected one of `id`, `type`, `replicas`"),
            "unknown field `replica`; did you mean `replicas`?"
        );
        assert_eq!(
            humanize("unknown field `zzz`, expected one of `id`, `type`"),
            "unknown field `zzz`, expected one of `id`, `type`"
        );
        assert_eq!(
            humanize("unknown variant `databse`, expected one of `compute`, `database`"),
            "unknown value `databse`; did you mean `database`?"
        );
        assert_eq!(
            humanize("unknown field `interval` for a call step, expected one of `call`, `timeout`"),
            "unknown field `interval` for a call step, expected one of `call`, `timeout`"
        );
        assert_eq!(humanize("missing field `id`"), "missing field `id`");
        assert_eq!(
            humanize("invalid type: null, expected a sequence"),
            "expected a list, got nothing (null)"
        );
    }

    #[test]
    fn original_indices_survive_removals() {
        let mut removed = BTreeMap::new();
        let arr = vec![Seg::Key("resources".into())];
        removed.insert(arr.clone(), BTreeSet::from([0, 2]));
        let w = vec![
            Seg::Key("resources".into()),
            Seg::Index(1),
            Seg::Key("id".into()),
        ];
        assert_eq!(
            to_original(&w, &removed),
            vec![
                Seg::Key("resources".into()),
                Seg::Index(3),
                Seg::Key("id".into())
            ]
        );
    }
}
