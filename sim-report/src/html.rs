//! Writing the page: escaping, tables with headers, sections, the style.

/// `s` with `& < > " '` escaped, for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table with a caption, a header row (`<th scope="col">`) and the first
/// cell of each row as its header (`<th scope="row">`); cells are escaped.
/// Wrapped so that a wide table scrolls instead of widening the page.
pub fn table(caption: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<div class=\"scroll\"><table>\n");
    out += &format!("<caption>{}</caption>\n<thead><tr>", esc(caption));
    for h in header {
        out += &format!("<th scope=\"col\">{}</th>", esc(h));
    }
    out += "</tr></thead>\n<tbody>\n";
    for r in rows {
        out += "<tr>";
        for (i, c) in r.iter().enumerate() {
            if i == 0 {
                out += &format!("<th scope=\"row\">{}</th>", esc(c));
            } else {
                out += &format!("<td>{}</td>", esc(c));
            }
        }
        out += "</tr>\n";
    }
    out += "</tbody>\n</table></div>\n";
    out
}

/// A plot in a figure, with its caption.
pub fn figure(svg: &str, caption: &str) -> String {
    format!(
        "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
        esc(caption)
    )
}

/// The page's style: readable at 1280 px and on a phone, printable.
pub const STYLE: &str = r#"
:root { --ink: #1d2733; --muted: #5b6b7b; --line: #d5dde5; --bad: #b3261e; --good: #1b6e3a; --warn: #8a5a00; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", system-ui, sans-serif; color: var(--ink); margin: 0; line-height: 1.45; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
header { border-bottom: 2px solid var(--line); margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 0.6rem 0 0.2rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
p.meta, figcaption, caption, .note { color: var(--muted); font-size: 0.9rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; font-size: 0.9rem; }
figure { margin: 0.75rem 0; }
svg { max-width: 100%; height: auto; display: block; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.88rem; }
caption { text-align: left; padding: 0.2rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
thead th { background: #f3f6f9; }
td { font-variant-numeric: tabular-nums; }
.verdict { font-size: 1.05rem; padding: 0.6rem 0.8rem; border-left: 5px solid var(--line); background: #f7f9fb; margin: 0.4rem 0; }
.verdict.fail { border-color: var(--bad); }
.verdict.pass { border-color: var(--good); }
.verdict.undecided { border-color: var(--warn); }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85rem; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; font-size: 0.9rem; }
dt { font-weight: bold; }
dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 640px) { main { padding: 0.6rem; } h1 { font-size: 1.3rem; } dl { grid-template-columns: 1fr; } }
"#;
