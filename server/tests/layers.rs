//! The house's rules, checked over the code's own `use` lines and paths (the README's
//! "Architecture" draws them):
//!
//! - every module of `server/src` belongs to one layer, and imports only from its own layer or the
//!   layers below it;
//! - below the HTTP doors nothing names axum (nor `ApiError` or `AppState`, which live up there);
//! - no import circle: between the top-level modules, nor between the files of a folder;
//! - `delivery` (the ingestion core) depends on no HTTP framework, database or async runtime.
//!
//! A file that breaks a rule is named with the import that breaks it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The server's layers, top first: (name, the top-level modules in it).
const LAYERS: &[(&str, &[&str])] = &[
    ("entry", &["main", "startup", "cli"]),
    (
        "doors",
        &[
            "routes",
            "api",
            "dashboard",
            "ingest",
            "state",
            "error",
            "http_server",
            "compression",
        ],
    ),
    ("views", &["views"]),
    (
        "engine",
        &[
            "monitor",
            "events",
            "live",
            "refusals",
            "extractor",
            "sessions",
            "public_url",
            "completeness",
            "drift",
            "leadership",
            "live_feed",
            "schedule",
        ],
    ),
    ("store", &["store", "db", "sqlite_memory"]),
    (
        "base",
        &[
            "config",
            "credentials",
            "log_file",
            "telemetry",
            "outbound",
            "ngrok",
            "paths",
            "rate_key",
            "brightdata_api",
        ],
    ),
];

/// Layers whose code may use the HTTP framework.
const HTTP_LAYERS: &[&str] = &["entry", "doors"];

/// What the ingestion core must not depend on.
const NOT_IN_THE_CORE: &[&str] = &["axum", "sea-orm", "sea_orm", "tokio", "hyper", "leptos"];

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// Every `.rs` file under `dir`, as (path relative to `dir`, text).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.strip_prefix(root).unwrap().to_owned(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The code of a file without its comments (line comments, doc comments, block comments) and
/// string literals, so that neither a comment nor a message mentioning a path counts as an import.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            // A character literal (`'"'`) or a lifetime: only the literal of one character (or
            // an escape) is skipped, so a lifetime's quote does not swallow code.
            '\'' => {
                let rest: String = chars.clone().take(4).collect();
                if rest.starts_with('\\') {
                    let end = rest.find('\'').map(|i| i + 1).unwrap_or(0);
                    for _ in 0..end {
                        chars.next();
                    }
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                }
                out.push('\'');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The module path of a file (`ingest/webhook.rs` -> `[ingest, webhook]`, `store/mod.rs` ->
/// `[store]`, `lib.rs` and `main.rs` -> `[]`, the crate's roots).
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Every path the code names that starts at `crate`, `super` or `self`, with `use` groups
/// (`use crate::a::{b, c::d}`) expanded.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let root = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|r| rest.starts_with(r));
        match root {
            Some(root)
                if starts_word && !(i >= 2 && bytes[i - 2] == ':' && bytes[i - 1] == ':') =>
            {
                let (paths, end) = read_tree(&bytes, i);
                out.extend(paths);
                i = end.max(i + root.len());
            }
            _ => i += 1,
        }
    }
    out
}

/// Reads `a::b::{c, d::e}` from `at`: the paths it names, and where it ends.
fn read_tree(chars: &[char], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        let start = at;
        while at < chars.len() && (chars[at].is_alphanumeric() || chars[at] == '_') {
            at += 1;
        }
        if at > start {
            prefix.push(chars[start..at].iter().collect::<String>());
        }
        let sep = at + 1 < chars.len() && chars[at] == ':' && chars[at + 1] == ':';
        if !sep {
            return (vec![prefix], at);
        }
        at += 2;
        while at < chars.len() && chars[at].is_whitespace() {
            at += 1;
        }
        if at < chars.len() && chars[at] == '{' {
            at += 1;
            let mut paths = Vec::new();
            loop {
                while at < chars.len() && (chars[at].is_whitespace() || chars[at] == ',') {
                    at += 1;
                }
                if at >= chars.len() || chars[at] == '}' {
                    return (paths, at + 1);
                }
                let (inner, end) = read_tree(chars, at);
                for path in inner {
                    let mut full = prefix.clone();
                    full.extend(path.into_iter().filter(|p| p != "self"));
                    paths.push(full);
                }
                // Skip `as name` and anything else up to the next item.
                at = end;
                while at < chars.len() && chars[at] != ',' && chars[at] != '}' {
                    at += 1;
                }
            }
        }
        if at < chars.len() && chars[at] == '*' {
            return (vec![prefix], at + 1);
        }
    }
}

/// The file a path refers to: the longest prefix of it that is a module of the crate.
fn resolve(
    from: &[String],
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut full: Vec<String> = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("self") => {
            full = from.to_vec();
            rest = &path[1..];
        }
        Some("super") => {
            // `super` of `a/b.rs` (module a::b) is `a`; of a folder's `mod.rs` (module a) it is the
            // crate.
            full = from.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                full.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    full.extend(rest.iter().cloned());
    (0..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|m| modules.contains(m))
}

struct Crate {
    /// Module path -> file path.
    files: BTreeMap<Vec<String>, PathBuf>,
    /// Module -> the modules it imports (resolved), with the text of the import.
    imports: BTreeMap<Vec<String>, Vec<(Vec<String>, String)>>,
    code: BTreeMap<Vec<String>, String>,
}

fn read_crate(name: &str) -> Crate {
    let src = crate_dir(name).join("src");
    let files: BTreeMap<Vec<String>, PathBuf> = sources(&src)
        .into_iter()
        .filter(|(path, _)| path != Path::new("main.rs") || name != "server")
        .map(|(path, _)| (module_of(&path), path))
        .collect();
    let modules: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    let mut imports = BTreeMap::new();
    let mut code = BTreeMap::new();
    for (module, path) in &files {
        let text = code_of(&std::fs::read_to_string(src.join(path)).unwrap());
        let found: Vec<(Vec<String>, String)> = paths_in(&text)
            .into_iter()
            .filter_map(|p| {
                let to = resolve(module, &p, &modules)?;
                (to != *module).then(|| (to, p.join("::")))
            })
            .collect();
        imports.insert(module.clone(), found);
        code.insert(module.clone(), text);
    }
    Crate {
        files,
        imports,
        code,
    }
}

fn layer_of(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS
        .iter()
        .position(|(_, tops)| tops.contains(&top.as_str()))
}

#[test]
fn every_module_of_the_server_has_a_layer() {
    let server = read_crate("server");
    let unplaced: Vec<String> = server
        .files
        .keys()
        .filter(|m| !m.is_empty() && layer_of(m).is_none())
        .map(|m| m.join("::"))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS and to the README): {unplaced:?}"
    );
}

#[test]
fn no_layer_imports_a_higher_one() {
    let server = read_crate("server");
    let mut wrong = Vec::new();
    for (module, imports) in &server.imports {
        let Some(from) = layer_of(module) else {
            continue;
        };
        for (to, text) in imports {
            if let Some(target) = layer_of(to)
                && target < from
            {
                wrong.push(format!(
                    "{} ({}) imports {text} ({})",
                    server.files[module].display(),
                    LAYERS[from].0,
                    LAYERS[target].0
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run back up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn nothing_below_the_doors_knows_http_or_its_types() {
    let server = read_crate("server");
    let mut wrong = Vec::new();
    for (module, code) in &server.code {
        let Some(layer) = layer_of(module) else {
            continue;
        };
        if HTTP_LAYERS.contains(&LAYERS[layer].0) {
            continue;
        }
        for word in ["axum", "leptos_axum", "tower_http", "ApiError", "AppState"] {
            let named = code.match_indices(word).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = code[i + word.len()..].chars().next();
                let edge = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                edge(before) && edge(after)
            });
            if named {
                wrong.push(format!(
                    "{} ({}) names {word}",
                    server.files[module].display(),
                    LAYERS[layer].0
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The strongly connected groups of more than one node (Tarjan's algorithm).
fn circles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct Walk<'a, N> {
        edges: &'a BTreeMap<N, BTreeSet<N>>,
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on_stack: BTreeSet<N>,
        found: Vec<Vec<N>>,
    }
    impl<N: Ord + Clone> Walk<'_, N> {
        fn visit(&mut self, node: &N) {
            let i = self.index.len();
            self.index.insert(node.clone(), i);
            self.low.insert(node.clone(), i);
            self.stack.push(node.clone());
            self.on_stack.insert(node.clone());
            for next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node.clone(), low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node.clone(), low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(&top);
                    let done = top == *node;
                    group.push(top);
                    if done {
                        break;
                    }
                }
                if group.len() > 1 {
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found
}

/// No circle between top-level modules, nor between files: a folder's `mod.rs` and the files
/// under it are one module for this (it declares them and hands their names on).
fn assert_no_circles(name: &str) {
    let krate = read_crate(name);
    let mut between_tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut between_files: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, imports) in &krate.imports {
        for (to, _) in imports {
            if let (Some(a), Some(b)) = (module.first(), to.first())
                && a != b
            {
                between_tops.entry(a.clone()).or_default().insert(b.clone());
            }
            let parent_and_child = to.starts_with(module) || module.starts_with(to);
            if !parent_and_child {
                between_files
                    .entry(module.clone())
                    .or_default()
                    .insert(to.clone());
            }
        }
    }
    let tops = circles(&between_tops);
    assert!(tops.is_empty(), "{name}: modules in a circle: {tops:?}");
    let files: Vec<Vec<String>> = circles(&between_files)
        .into_iter()
        .map(|group| group.iter().map(|m| m.join("::")).collect())
        .collect();
    assert!(files.is_empty(), "{name}: files in a circle: {files:?}");
}

#[test]
fn no_import_circles_in_the_server() {
    assert_no_circles("server");
}

#[test]
fn no_import_circles_in_the_app_or_the_core() {
    assert_no_circles("app");
    assert_no_circles("delivery");
}

#[test]
fn the_ingestion_core_stands_alone() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(crate_dir("delivery").join("Cargo.toml")).unwrap())
            .unwrap();
    let dependencies: Vec<&String> = manifest["dependencies"]
        .as_table()
        .unwrap()
        .keys()
        .collect();
    for name in NOT_IN_THE_CORE {
        assert!(
            !dependencies.iter().any(|d| d.as_str() == *name),
            "delivery depends on {name}"
        );
    }
    for (path, text) in sources(&crate_dir("delivery").join("src")) {
        let code = code_of(&text);
        for name in NOT_IN_THE_CORE {
            assert!(
                !code.contains(&format!("{name}::")),
                "{} names {name}",
                path.display()
            );
        }
    }
}

/// The reader itself, on the shapes it must see through.
#[test]
fn the_reader_finds_grouped_nested_and_relative_imports_but_not_comments() {
    let code = code_of(
        "use crate::a::{b, c::{d, e as f}, self};\n\
         // use crate::hidden;\n\
         let s = \"crate::quoted\";\n\
         fn x<'a>(v: &'a str) { super::g::h(v); self::i::J; }\n",
    );
    let found: BTreeSet<String> = paths_in(&code).into_iter().map(|p| p.join("::")).collect();
    let expected: BTreeSet<String> = [
        "crate::a::b",
        "crate::a::c::d",
        "crate::a::c::e",
        "crate::a",
        "super::g::h",
        "self::i::J",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(found, expected);

    let modules: BTreeSet<Vec<String>> = [vec![], vec!["a".into()], vec!["a".into(), "b".into()]]
        .into_iter()
        .collect();
    let from = vec!["a".to_owned(), "c".to_owned()];
    let path = |p: &str| p.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        resolve(&from, &path("super::b::X"), &modules),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        resolve(&from, &path("crate::a::zz"), &modules),
        Some(vec!["a".into()])
    );
    let mut edges: BTreeMap<u8, BTreeSet<u8>> = BTreeMap::new();
    edges.insert(1, [2].into());
    edges.insert(2, [3].into());
    edges.insert(3, [1].into());
    edges.insert(4, [1].into());
    assert_eq!(circles(&edges).len(), 1);
    edges.insert(3, BTreeSet::new());
    assert!(circles(&edges).is_empty());
}
