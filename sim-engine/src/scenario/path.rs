//! Field paths: `resources[2].replicas`, `variants[0].set."resources[db].replicas"`.

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Seg {
    /// A map key.
    Key(String),
    /// An array index.
    Index(usize),
}

fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Renders segments the way problems name fields: `a.b[2].c`; keys that are
/// not plain identifiers are quoted (`set."resources[db].replicas"`).
pub(crate) fn render(segs: &[Seg]) -> String {
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        match s {
            Seg::Key(k) => {
                if i > 0 {
                    out.push('.');
                }
                if plain_key(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                }
            }
            Seg::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// The path one level up (`a.b[2]` -> `a.b`, `a."x.y"` -> `a`), or `None` at the root.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let mut in_quotes = false;
    let mut escaped = false;
    let mut cut = 0;
    for (i, c) in path.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '.' | '[' => cut = i,
            _ => {}
        }
    }
    Some(&path[..cut])
}

/// One step of a variant's `set:` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sel {
    /// `.key`
    Key(String),
    /// `[3]`
    Index(usize),
    /// `[orders-db]`: the element whose `id` (or `name`) is this.
    Id(String),
}

/// Parses `handlers[checkout-handler].operations[create_order].steps[0].retry`.
pub(crate) fn parse_expr(expr: &str) -> Result<Vec<Sel>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.trim().chars().collect();
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                let Some(close) = chars[i + 1..].iter().position(|c| *c == ']') else {
                    return Err(format!("`[` at character {} is never closed", i + 1));
                };
                let inner: String = chars[i + 1..i + 1 + close].iter().collect();
                let inner = inner.trim();
                if inner.is_empty() {
                    return Err(format!("empty `[]` at character {}", i + 1));
                }
                if out.is_empty() {
                    return Err(
                        "a path starts with a field name, like `resources[db].replicas`".into(),
                    );
                }
                match inner.parse::<usize>() {
                    Ok(n) => out.push(Sel::Index(n)),
                    Err(_) => out.push(Sel::Id(inner.trim_matches('"').to_string())),
                }
                i += close + 2;
                expect_key = false;
            }
            '.' => {
                if expect_key {
                    return Err(format!("unexpected `.` at character {}", i + 1));
                }
                i += 1;
                expect_key = true;
            }
            _ => {
                if !expect_key {
                    return Err(format!("expected `.` or `[` at character {}", i + 1));
                }
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                let key = key.trim();
                if key.is_empty() {
                    return Err(format!("empty field name at character {}", start + 1));
                }
                out.push(Sel::Key(key.to_string()));
                expect_key = false;
            }
        }
    }
    if out.is_empty() {
        return Err("the path is empty".into());
    }
    if expect_key {
        return Err("the path ends with `.`".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_and_parent() {
        let p = render(&[
            Seg::Key("variants".into()),
            Seg::Index(0),
            Seg::Key("set".into()),
            Seg::Key("resources[db].replicas".into()),
        ]);
        assert_eq!(p, r#"variants[0].set."resources[db].replicas""#);
        assert_eq!(parent(&p), Some("variants[0].set"));
        assert_eq!(parent("variants[0].set"), Some("variants[0]"));
        assert_eq!(parent("variants[0]"), Some("variants"));
        assert_eq!(parent("variants"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn expressions() {
        assert_eq!(
            parse_expr("handlers[h].operations[op].steps[0].retry.max_attempts"),
            Ok(vec![
                Sel::Key("handlers".into()),
                Sel::Id("h".into()),
                Sel::Key("operations".into()),
                Sel::Id("op".into()),
                Sel::Key("steps".into()),
                Sel::Index(0),
                Sel::Key("retry".into()),
                Sel::Key("max_attempts".into()),
            ])
        );
        assert!(parse_expr("resources[db").is_err());
        assert!(parse_expr("resources..x").is_err());
        assert!(parse_expr("resources.").is_err());
        assert!(parse_expr("[0]").is_err());
        assert!(parse_expr("").is_err());
        assert!(parse_expr("a[0]b").is_err());
    }
}
