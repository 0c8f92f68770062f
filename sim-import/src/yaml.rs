//! A YAML (and so JSON) document tree that keeps what CloudFormation and
//! the other importers need and serde drops: tags (`!Ref`, `!Sub`), the
//! line of every node, and every document of a multi-document stream.

use std::collections::HashMap;
use std::path::Path;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
use sim_engine::error::Error;

/// The most nodes one file may expand to (aliases included): a bound on
/// alias bombs.
const MAX_NODES: usize = 2_000_000;

/// A node of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// A local tag (`!Ref`), if the node has one.
    pub tag: Option<String>,
    /// 1-based line where the node starts.
    pub line: usize,
    /// What it is.
    pub kind: Kind,
}

/// A node's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar's text (numbers and booleans too, as written).
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order (keys as text).
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar.
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a sequence (none for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(s) => s,
            _ => &[],
        }
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> &[(String, Node)] {
        match &self.kind {
            Kind::Map(m) => m,
            _ => &[],
        }
    }

    /// `get(a).get(b)…`.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, k| n.get(k))
    }
}

enum Frame {
    Seq(Node, usize),
    Map(Node, Option<String>, usize),
}

fn tag_of(tag: Option<&serde_saphyr::granit_parser::Tag>) -> Option<String> {
    tag.filter(|t| t.handle() == "!")
        .map(|t| format!("!{}", t.suffix()))
}

/// Every document of `src` (`file` for messages).
pub fn parse(src: &str, file: &Path) -> Result<Vec<Node>, Error> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut count = 0usize;
    let bad = |line: usize, what: String| {
        Error::input(format!(
            "preflight: import: {}:{line}: {what}",
            file.display()
        ))
    };
    for item in Parser::new_from_str(src) {
        let (event, span) = item.map_err(|e| {
            bad(
                e.marker().line(),
                format!("not valid YAML or JSON: {}", e.info()),
            )
        })?;
        let line = span.start.line();
        let finished: Option<(Node, usize)> = match event {
            Event::Scalar(text, style, anchor, tag) => {
                count += 1;
                let mut node = Node {
                    tag: tag_of(tag.as_deref()),
                    line,
                    kind: Kind::Scalar(text.into_owned()),
                };
                if style != ScalarStyle::Plain && node.tag.is_none() {
                    node.tag = None;
                }
                Some((node, anchor))
            }
            Event::SequenceStart(_, anchor, tag) => {
                stack.push(Frame::Seq(
                    Node {
                        tag: tag_of(tag.as_deref()),
                        line,
                        kind: Kind::Seq(Vec::new()),
                    },
                    anchor,
                ));
                None
            }
            Event::MappingStart(_, anchor, tag) => {
                stack.push(Frame::Map(
                    Node {
                        tag: tag_of(tag.as_deref()),
                        line,
                        kind: Kind::Map(Vec::new()),
                    },
                    None,
                    anchor,
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(n, a)) | Some(Frame::Map(n, _, a)) => Some((n, a)),
                None => None,
            },
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| bad(line, "an alias to an unknown anchor".into()))?;
                count += size(&node);
                Some((node, 0))
            }
            _ => None,
        };
        if count > MAX_NODES {
            return Err(bad(
                line,
                format!("more than {MAX_NODES} nodes once aliases are expanded: not a template"),
            ));
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => {
                    *key = Some(match &node.kind {
                        Kind::Scalar(s) => s.clone(),
                        _ => return Err(bad(node.line, "a mapping key that is not text".into())),
                    })
                }
                Some(k) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        if entries.iter().any(|(e, _)| *e == k) {
                            return Err(bad(node.line, format!("duplicate key `{k}`")));
                        }
                        entries.push((k, node));
                    }
                }
            },
        }
    }
    Ok(docs)
}

fn size(n: &Node) -> usize {
    1 + match &n.kind {
        Kind::Scalar(_) => 0,
        Kind::Seq(s) => s.iter().map(size).sum(),
        Kind::Map(m) => m.iter().map(|(_, v)| size(v)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_lines_documents_and_aliases() {
        let src = "a: !Ref B\nb: !GetAtt [X, Arn]\nc: &x { k: 1 }\nd: *x\n---\n{\"e\": \"f\"}\n";
        let docs = parse(src, Path::new("t.yaml")).unwrap();
        assert_eq!(docs.len(), 2);
        let a = docs[0].get("a").unwrap();
        assert_eq!(
            (a.tag.as_deref(), a.str(), a.line),
            (Some("!Ref"), Some("B"), 1)
        );
        let b = docs[0].get("b").unwrap();
        assert_eq!(b.tag.as_deref(), Some("!GetAtt"));
        assert_eq!(b.items().len(), 2);
        assert_eq!(docs[0].get("d").unwrap().get("k").unwrap().str(), Some("1"));
        assert_eq!(docs[1].get("e").unwrap().str(), Some("f"));
        let e = parse("a: [1, 2\n", Path::new("t.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:") && e.contains("not valid YAML"), "{e}");
        let e = parse("a: 1\na: 2\n", Path::new("t.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:2: duplicate key `a`"), "{e}");
    }
}
