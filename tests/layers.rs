//! The layout rule of `api/` (README, "Layout"): a file imports only from its own floor
//! or from the floors below it, never from another resource's folder, and no two files
//! import each other, directly or round a circle.
//!
//! Read from the source text: every `crate::` path (in `use` lines, in code and in macro
//! bodies as `$crate::`) and every `super::` path outside comments and `#[cfg(test)]`
//! modules. Standard library only, so it also runs as
//! `rustc --edition 2024 --test tests/layers.rs -o /tmp/layers && /tmp/layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, lowest first. A top-level module of `api/` not listed here fails the test,
/// so a new folder has to be given its place.
const FLOORS: &[&str] = &[
    "core",
    "ops",
    "db",
    "auth",
    "state",
    "formats",
    "resources",
    "reports",
    "seed",
    "app",
];

/// Inside `resources/`, the shared folder is a floor below every resource.
const RESOURCES_SHARED: &str = "shared";

/// A module of the crate: its path below `crate` (empty for `lib.rs`).
type Module = Vec<String>;

/// Where a module sits: its floor (index into FLOORS, past the end for the crate root),
/// and for resources the resource folder and whether it is the shared one.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Place {
    floor: usize,
    room: Option<String>,
}

fn place(module: &[String]) -> Result<Place, String> {
    let Some(top) = module.first() else {
        // `lib.rs` declares the floors; importing from it is importing from the top.
        return Ok(Place {
            floor: FLOORS.len(),
            room: None,
        });
    };
    let floor = FLOORS
        .iter()
        .position(|f| f == top)
        .ok_or_else(|| format!("`{top}` is not a floor: add it to FLOORS and the README"))?;
    let room = if top == "resources" {
        module.get(1).cloned()
    } else {
        None
    };
    Ok(Place { floor, room })
}

/// Why `from` may not import `to`, if it may not.
fn violation(from: &[String], to: &[String]) -> Result<Option<String>, String> {
    let (a, b) = (place(from)?, place(to)?);
    let name = |m: &[String]| {
        if m.is_empty() {
            "crate root".to_owned()
        } else {
            m.join("::")
        }
    };
    if b.floor > a.floor {
        return Ok(Some(format!(
            "{} imports {} from a higher floor",
            name(from),
            name(to)
        )));
    }
    if a.floor == b.floor && FLOORS.get(a.floor) == Some(&"resources") {
        let (ra, rb) = (a.room.as_deref(), b.room.as_deref());
        let sideways = match (ra, rb) {
            (Some(x), Some(y)) => x != y && y != RESOURCES_SHARED,
            // `resources/mod.rs` only declares the folders; nothing imports it.
            (Some(_), None) => true,
            (None, _) => false,
        };
        if sideways {
            return Ok(Some(format!(
                "{} imports {} sideways, from another resource",
                name(from),
                name(to)
            )));
        }
    }
    Ok(None)
}

/// The source with comments, string literals' contents and `#[cfg(test)]` modules blanked.
fn code_of(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            // A raw string's hashes are not tracked: no `crate::` hides in one here.
            out.push('"');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else {
            let c = src[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    strip_test_modules(&out)
}

fn strip_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find(['{', ';']) else {
            rest = "";
            break;
        };
        if after.as_bytes()[open] == b';' {
            rest = &after[open + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (k, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `crate::` or `super::`, as segments, with `use`
/// groups (`crate::a::{b, c::d}`) expanded.
fn paths(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut found = Vec::new();
    for (anchor, is_super) in [("crate::", false), ("super::", true)] {
        let mut from = 0;
        while let Some(k) = code[from..].find(anchor) {
            let at = from + k;
            from = at + anchor.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let mut prefix = Vec::new();
            if is_super {
                prefix.push("super".to_owned());
                let mut rest = &code[from..];
                while let Some(r) = rest.strip_prefix("super::") {
                    prefix.push("super".to_owned());
                    rest = r;
                }
                from = code.len() - rest.len();
            }
            expand(&code[from..], prefix, &mut found, is_super);
        }
    }
    found
}

fn expand(text: &str, prefix: Vec<String>, out: &mut Vec<(bool, Vec<String>)>, is_super: bool) {
    let mut segs = prefix;
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut start = 0;
            for (k, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        expand(&group[start..k], segs.clone(), out, is_super);
                        start = k + 1;
                    }
                    _ => {}
                }
                if depth == 0 {
                    expand(&group[start..k], segs.clone(), out, is_super);
                    return;
                }
            }
            return;
        }
        let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        segs.push(rest[..len].to_owned());
        rest = &rest[len..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
    if !segs.is_empty() && segs.iter().any(|s| s != "super" && s != "self") {
        out.push((is_super, segs));
    }
}

/// The source files of the crate, by module path.
fn modules(root: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("api/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(root).expect("below api/");
            let mut module: Module = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            // The binary is its own crate, above everything.
            if module == ["main"] {
                continue;
            }
            out.insert(module, path);
        }
    }
    out
}

/// The module a path lands in: the longest prefix of it that is a module file.
fn target(known: &BTreeMap<Module, PathBuf>, path: &[String]) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| known.contains_key(m))
        .unwrap_or_default()
}

/// Every import between two different files of the crate.
fn imports(
    known: &BTreeMap<Module, PathBuf>,
    read: impl Fn(&Path) -> String,
) -> BTreeSet<(Module, Module)> {
    let mut edges = BTreeSet::new();
    for (module, file) in known {
        let code = code_of(&read(file));
        for (is_super, path) in paths(&code) {
            let absolute: Vec<String> = if is_super {
                let mut base = module.clone();
                let mut rest = path.as_slice();
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.into_iter().chain(rest.iter().cloned()).collect()
            } else {
                path
            };
            // A module re-exporting the `#[macro_export]` macro it defines (which Rust
            // puts at the crate root) imports nothing.
            if let [name] = absolute.as_slice()
                && code.contains(&format!("macro_rules! {name}"))
            {
                continue;
            }
            let to = target(known, &absolute);
            if &to != module {
                edges.insert((module.clone(), to));
            }
        }
    }
    edges
}

/// A circle among the imports, if there is one, as the modules round it.
fn circle(edges: &BTreeSet<(Module, Module)>) -> Option<Vec<Module>> {
    let mut next: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    // 0 unseen, 1 on the current path, 2 done.
    let mut mark: BTreeMap<&Module, u8> = BTreeMap::new();
    fn visit<'a>(
        m: &'a Module,
        next: &BTreeMap<&'a Module, Vec<&'a Module>>,
        mark: &mut BTreeMap<&'a Module, u8>,
        path: &mut Vec<&'a Module>,
    ) -> Option<Vec<Module>> {
        mark.insert(m, 1);
        path.push(m);
        for &n in next.get(m).map(Vec::as_slice).unwrap_or(&[]) {
            match mark.get(n).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| *p == n).expect("on the path");
                    return Some(path[start..].iter().map(|m| (*m).clone()).collect());
                }
                0 => {
                    if let Some(c) = visit(n, next, mark, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        mark.insert(m, 2);
        None
    }
    let starts: Vec<&Module> = next.keys().copied().collect();
    for m in starts {
        if mark.get(m).copied().unwrap_or(0) == 0 {
            let mut path = Vec::new();
            if let Some(c) = visit(m, &next, &mut mark, &mut path) {
                return Some(c);
            }
        }
    }
    None
}

/// Everything wrong with the layout, one line each.
fn problems(known: &BTreeMap<Module, PathBuf>, read: impl Fn(&Path) -> String) -> Vec<String> {
    let edges = imports(known, read);
    let mut out = Vec::new();
    for (from, to) in &edges {
        match violation(from, to) {
            Ok(Some(v)) => out.push(format!("{}: {v}", known[from].display())),
            Ok(None) => {}
            Err(e) => out.push(format!("{}: {e}", known[from].display())),
        }
    }
    if let Some(c) = circle(&edges) {
        let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
        out.push(format!("circle: {} -> {}", names.join(" -> "), names[0]));
    }
    out
}

fn api_dir() -> PathBuf {
    Path::new(option_env!("CARGO_MANIFEST_DIR").unwrap_or(".")).join("api")
}

#[test]
fn api_keeps_to_its_floors() {
    let root = api_dir();
    let known = modules(&root);
    assert!(
        known.len() > 40,
        "read the crate's files from {}",
        root.display()
    );
    let problems = problems(&known, |p| std::fs::read_to_string(p).expect("readable"));
    assert!(
        problems.is_empty(),
        "the layout rule (README, Layout) is broken:\n{}",
        problems.join("\n")
    );
}

/// The same reading of a small made-up crate, so that the test above cannot pass by
/// reading nothing.
fn planted(files: &[(&str, &str)]) -> Vec<String> {
    let known: BTreeMap<Module, PathBuf> = files
        .iter()
        .map(|(name, _)| {
            let mut m: Module = name
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_owned)
                .collect();
            if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
                m.pop();
            }
            (m, PathBuf::from(name))
        })
        .collect();
    let texts: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(n, s)| (PathBuf::from(n), s.to_string()))
        .collect();
    problems(&known, |p| texts[p].clone())
}

const HEALTHY: &[(&str, &str)] = &[
    (
        "lib.rs",
        "pub mod core; pub mod db; pub mod resources; pub mod app;",
    ),
    ("core/mod.rs", "pub mod error;"),
    ("core/error.rs", "pub struct ApiError;"),
    ("db/mod.rs", "use crate::core::error::ApiError;"),
    (
        "resources/mod.rs",
        "pub mod offices; pub mod agencies; pub mod shared;",
    ),
    ("resources/shared/mod.rs", "use crate::db;"),
    (
        "resources/offices/mod.rs",
        "use crate::{core::error::ApiError, db};\nuse crate::resources::shared::Contacts;\npub mod staff;",
    ),
    ("resources/offices/staff.rs", "use super::Office;"),
    (
        "resources/agencies/mod.rs",
        "// use crate::app::AppState; is only a comment\nuse crate::db;",
    ),
    ("app/mod.rs", "use crate::resources::{agencies, offices};"),
];

fn with(change: (&str, &str)) -> Vec<(&'static str, String)> {
    HEALTHY
        .iter()
        .map(|(n, s)| {
            if *n == change.0 {
                (*n, format!("{s}\n{}", change.1))
            } else {
                (*n, s.to_string())
            }
        })
        .collect()
}

fn planted_with(change: (&str, &str)) -> Vec<String> {
    let files = with(change);
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, s)| (*n, s.as_str())).collect();
    planted(&refs)
}

#[test]
fn a_healthy_layout_passes() {
    assert_eq!(planted(HEALTHY), Vec::<String>::new());
}

#[test]
fn an_upward_import_fails() {
    let p = planted_with(("core/error.rs", "fn f() { crate::db::pool(); }"));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("core::error imports db from a higher floor"),
        "{p:?}"
    );
    assert!(p[1].starts_with("circle: "), "{p:?}");
}

#[test]
fn an_upward_import_in_a_group_fails() {
    let p = planted_with(("db/mod.rs", "use crate::{core::error, app::{self}};"));
    assert!(
        p.iter()
            .any(|l| l.contains("db imports app from a higher floor")),
        "{p:?}"
    );
}

#[test]
fn a_macro_body_counts() {
    let p = planted_with((
        "core/error.rs",
        "macro_rules! m { () => { $crate::resources::offices::X } }",
    ));
    assert!(
        p.iter()
            .any(|l| l.contains("core::error imports resources::offices")),
        "{p:?}"
    );
}

#[test]
fn a_sideways_import_between_resources_fails() {
    let p = planted_with((
        "resources/agencies/mod.rs",
        "use crate::resources::offices::staff::Staff;",
    ));
    assert_eq!(
        p,
        [
            "resources/agencies/mod.rs: resources::agencies imports resources::offices::staff sideways, from another resource"
        ]
    );
}

#[test]
fn the_shared_folder_imports_no_resource() {
    let p = planted_with((
        "resources/shared/mod.rs",
        "use crate::resources::offices::Office;",
    ));
    assert!(p.iter().any(|l| l.contains("sideways")), "{p:?}");
}

#[test]
fn a_macro_at_the_crate_root_counts_as_the_top() {
    let p = planted_with(("db/mod.rs", "use crate::text;"));
    assert!(
        p.iter()
            .any(|l| l.contains("db imports crate root from a higher floor")),
        "{p:?}"
    );
}

#[test]
fn a_circle_within_a_folder_fails() {
    let p = planted_with((
        "resources/offices/mod.rs",
        "use crate::resources::offices::staff::Staff;",
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("circle: resources::offices -> resources::offices::staff"),
        "{p:?}"
    );
}

#[test]
fn a_new_floor_must_be_placed() {
    let mut files = HEALTHY.to_vec();
    files.push(("jobs/mod.rs", "use crate::db;"));
    let p = planted(&files);
    assert!(
        p.iter().any(|l| l.contains("`jobs` is not a floor")),
        "{p:?}"
    );
}

#[test]
fn comments_and_test_modules_are_not_imports() {
    let p = planted_with((
        "core/error.rs",
        "/// See [`crate::app::App`].\n#[cfg(test)]\nmod tests {\n    use crate::app::App;\n    fn f() { if true { } }\n}\nconst S: &str = \"crate::app\";",
    ));
    assert_eq!(p, Vec::<String>::new());
}
