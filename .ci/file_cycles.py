#!/usr/bin/env python3
"""No import cycle between the files of a crate.

For each crate directory given (default: sim-core and sim-models), every
`use crate::…`, `use super::…`, `use self::…`, `use <child>::…` and every
inline `crate::…` / `super::…` path in each file is resolved to the file that
DEFINES the named item (re-exports such as `pub use child::Item` are
followed, globs included), giving a graph of files. A strongly connected
component of more than one file is a cycle: it is printed with the import
sites behind each edge, and the script exits 1.

A module's own declarations and re-exports of its children (`mod x;`,
`pub use x::Item;`) are not dependencies: they are what makes the child
reachable. Unit tests (`mod tests`, in the file or beside it) are left out:
a test may drive the code it tests through the crate's entry points.

The check is made twice: between files, and between the crate's top-level
modules (a directory module such as `spec/` counted as one), so that a
cycle through a directory (`spec/validate.rs` → `paths/` → `spec/`) is
found too. Only the standard library is used: CI needs nothing installed.
"""

import re
import sys
from pathlib import Path

ITEM_RE = re.compile(
    r"(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"C\"\s+)?"
    r"(fn|struct|enum|trait|type|const|static|mod|union)\s+([A-Za-z_]\w*)"
)
MACRO_RE = re.compile(r"macro_rules!\s*([A-Za-z_]\w*)")
USE_RE = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
PATH_RE = re.compile(r"(?<![\w:])(crate|super|self)((?:::[A-Za-z_]\w*)+)")


def strip(src: str) -> str:
    """Blanks comments, string and char literals (keeping offsets and lines)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = src.find('"' + m.group(1), i + len(m.group(0)))
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            # char literal ('a', '\n', '\u{..}') but not a lifetime ('a)
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(tree: str, prefix=()):
    """`a::{b, c::{d as e, *}}` → [(('a','b'), alias), …]"""
    tree = tree.strip()
    res = []
    # split at top-level commas
    parts, depth, cur = [], 0, ""
    for ch in tree:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if p.startswith("::"):
            p = p[2:]
        if "{" in p:
            head = p[: p.index("{")].rstrip(":").strip()
            inner = p[p.index("{") + 1 : p.rindex("}")]
            segs = tuple(s.strip() for s in head.split("::") if s.strip())
            res += expand(inner, prefix + segs)
        else:
            alias = None
            m = re.match(r"(.*?)\s+as\s+(\w+)$", p)
            if m:
                p, alias = m.group(1), m.group(2)
            segs = tuple(s.strip() for s in p.split("::") if s.strip())
            if segs and segs[-1] == "self":
                segs = segs[:-1]
            res.append((prefix + segs, alias))
    return res


class Crate:
    def __init__(self, root: Path):
        self.root = root
        self.files = {}  # module path (tuple) -> Path
        self.text = {}  # Path -> stripped text
        self.inline = {}  # Path -> [(start, end, name)] inline `mod name { … }`
        self.items = {}  # module path -> set of names defined there
        self.reexports = {}  # module path -> {name: absolute path}
        self.globs = {}  # module path -> [absolute module path]
        lib = root / "src" / "lib.rs"
        self._walk((), lib if lib.exists() else root / "src" / "main.rs")
        for mod, f in self.files.items():
            self._scan(mod, f)

    def _walk(self, mod, f: Path):
        self.files[mod] = f
        t = strip(f.read_text())
        self.text[f] = t
        self.inline[f] = self._inline_mods(t)
        for m in re.finditer(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", t):
            name = m.group(1)
            base = f.parent if f.name in ("lib.rs", "main.rs", "mod.rs") else f.parent / f.stem
            for cand in (base / f"{name}.rs", base / name / "mod.rs"):
                if cand.exists():
                    self._walk(mod + (name,), cand)
                    break

    @staticmethod
    def _inline_mods(t):
        res = []
        for m in re.finditer(r"\bmod\s+(\w+)\s*\{", t):
            depth, j = 1, m.end()
            while j < len(t) and depth:
                depth += {"{": 1, "}": -1}.get(t[j], 0)
                j += 1
            res.append((m.start(), j, m.group(1)))
        return res

    def _depth(self, t, pos):
        return t.count("{", 0, pos) - t.count("}", 0, pos)

    def is_test(self, mod, f, pos):
        if "tests" in mod:
            return True
        return any(s <= pos < e and name == "tests" for s, e, name in self.inline[f])

    def module_at(self, mod, f, pos):
        for s, e, name in self.inline[f]:
            if s <= pos < e:
                return mod + (name,)
        return mod

    def absolute(self, mod, segs):
        """Path as written in module `mod` → absolute tuple, or None (external)."""
        if not segs:
            return None
        if segs[0] == "crate":
            return segs[1:]
        if segs[0] == "self":
            return mod + segs[1:]
        if segs[0] == "super":
            cur = mod
            while segs and segs[0] == "super":
                cur, segs = cur[:-1], segs[1:]
            return cur + segs
        if mod + (segs[0],) in self.files:  # child module, 2018-style
            return mod + segs
        return None

    def _scan(self, mod, f):
        t = self.text[f]
        names = set()
        for m in ITEM_RE.finditer(t):
            if self._depth(t, m.start()) == 0:
                names.add(m.group(2))
        for m in MACRO_RE.finditer(t):
            names.add(m.group(1))
        self.items[mod] = names
        self.reexports[mod] = {}
        self.globs[mod] = []
        for m in USE_RE.finditer(t):
            if not m.group(1) or self._depth(t, m.start()) != 0:
                continue
            for segs, alias in expand(m.group(2)):
                a = self.absolute(mod, segs)
                if a is None:
                    continue
                if segs[-1] == "*":
                    self.globs[mod].append(a[:-1])
                else:
                    self.reexports[mod][alias or a[-1]] = a

    def resolve(self, path, seen=None):
        """Absolute path → module path of the file that defines it."""
        seen = seen or set()
        if path in seen:
            return None
        seen.add(path)
        k = len(path)
        while k > 0 and path[:k] not in self.files:
            k -= 1
        mod = path[:k]
        if k == len(path):
            return mod  # a module itself
        name = path[k]
        if name == "*":
            return mod
        if name in self.items.get(mod, ()):
            return mod
        if name in self.reexports.get(mod, {}):
            r = self.resolve(self.reexports[mod][name], seen)
            return r if r is not None else mod
        for g in self.globs.get(mod, []):
            r = self.resolve(g + (name,), seen)
            if r is not None and (name in self.items.get(r, ()) or r != g):
                return r
        return mod

    def edges(self):
        """(from file, to file) -> [line numbers]"""
        out = {}
        for mod, f in self.files.items():
            t = self.text[f]
            spans = []
            for m in USE_RE.finditer(t):
                spans.append((m.start(), m.end()))
                if self.is_test(mod, f, m.start()):
                    continue
                reexport = m.group(1) is not None and self._depth(t, m.start()) == 0
                here = self.module_at(mod, f, m.start())
                for segs, _ in expand(m.group(2)):
                    a = self.absolute(here, segs)
                    if a is None:
                        continue
                    # a parent re-exporting its own child is not a dependency
                    if reexport and a[: len(mod)] == mod and len(a) > len(mod):
                        continue
                    self._add(out, f, a, t, m.start())
            for m in PATH_RE.finditer(t):
                if any(s <= m.start() < e for s, e in spans) or self.is_test(mod, f, m.start()):
                    continue
                here = self.module_at(mod, f, m.start())
                segs = (m.group(1),) + tuple(m.group(2).split("::")[1:])
                self._add(out, f, self.absolute(here, segs), t, m.start())
        return out

    def _add(self, out, f, a, t, pos):
        if a is None:
            return
        target = self.resolve(tuple(s for s in a if s != "*") + (("*",) if a and a[-1] == "*" else ()))
        if target is None or target not in self.files:
            return
        g = self.files[target]
        if g != f:
            out.setdefault((f, g), []).append(t.count("\n", 0, pos) + 1)


def sccs(nodes, adj):
    index, low, stack, on, res, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            res.append(comp)

    for v in nodes:
        if v not in index:
            visit(v)
    return res


def report(label, nodes, e, name_of, site_of):
    adj = {}
    for (a, b) in e:
        adj.setdefault(a, set()).add(b)
    cycles = [sorted(s) for s in sccs(nodes, adj) if len(s) > 1]
    print(f"  {label}: {len(nodes)} nodes, {len(e)} imports, {len(cycles)} cycle(s)")
    for comp in cycles:
        print("    cycle: " + ", ".join(name_of(p) for p in comp))
        for a in comp:
            for b in comp:
                if (a, b) in e:
                    print(f"      {name_of(a)} -> {name_of(b)}: " + "; ".join(site_of(x) for x in e[(a, b)]))
    return len(cycles)


def main(argv):
    repo = Path(__file__).resolve().parent.parent
    crates = argv[1:] or [
        "sim-core", "sim-models", "sim-output", "sim-engine",
        "sim-cluster", "sim-export", "sim-import", "sim-forecast", "sim-report", ".",
    ]
    bad = 0
    for name in crates:
        c = Crate(repo / name)
        fe = c.edges()
        rel = lambda p: str(p.relative_to(repo / name / "src"))
        print(f"{name if name != '.' else 'preflight (src/)'}:")
        site = lambda x: f"{rel(x[0])}:{x[1]}"
        bad += report("files", sorted(c.files.values()),
                      {k: [(k[0], l) for l in sorted(set(v))] for k, v in fe.items()},
                      rel, site)
        # top-level modules: a directory module is one node
        top = {f: (mod[0] if mod else "lib") for mod, f in c.files.items()}
        me = {}
        for (a, b), lines in fe.items():
            if top[a] != top[b]:
                me.setdefault((top[a], top[b]), []).extend((a, l) for l in sorted(set(lines)))
        bad += report("modules", sorted(set(top.values())), me, str, site)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
