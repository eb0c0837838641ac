//! The house's rules, read from the source: the domain room imports nothing of HTTP or of the
//! application around it, and no two source files import each other, even through others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `src/`, by path from `src/`, with its code before `#[cfg(test)]`
/// (tests may use anything), comment lines left out.
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code: String = text
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap()
                    .lines()
                    .filter(|line| !line.trim_start().starts_with("//"))
                    .map(|line| format!("{line}\n"))
                    .collect();
                let name = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(name.replace('\\', "/"), code);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// A file's module path: `domain/store.rs` is `["domain", "store"]`, `zulip_api/mod.rs` is
/// `["zulip_api"]`, `lib.rs` and `main.rs` are the crate root.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The paths a use tree names: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &[String], tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let mut path = prefix.to_vec();
        path.extend(
            tree.split("::")
                .map(str::trim)
                .filter(|part| !part.is_empty() && *part != "self")
                .map(str::to_owned),
        );
        return vec![path];
    };
    let mut head = prefix.to_vec();
    head.extend(
        tree[..open]
            .split("::")
            .filter(|part| !part.is_empty())
            .map(str::to_owned),
    );
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start, mut paths) = (0, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                paths.extend(expand(&head, &inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner[start..].trim().is_empty() {
        paths.extend(expand(&head, &inner[start..]));
    }
    paths
}

/// The use trees after each `crate::` and `super::` in `code`, with the module they start from.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (root, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
    ] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + root.len()..];
            let (mut depth, mut end) = (0, rest.len());
            for (i, c) in rest.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth > 0 => depth -= 1,
                    c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            paths.extend(expand(&base, &rest[..end]));
        }
    }
    paths
}

/// Which files each file imports (through `crate::`, `super::`, or a child module it declares).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let files: BTreeMap<Vec<String>, String> = sources
        .keys()
        .filter(|file| file.as_str() != "main.rs")
        .map(|file| (module_of(file), file.clone()))
        .collect();
    let mut graph = BTreeMap::new();
    for (file, code) in &sources {
        let module = module_of(file);
        let mut paths = named_paths(code, &module);
        for line in code.lines() {
            let declared = line
                .trim()
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(child) = declared {
                if code.contains(&format!("{child}::")) {
                    let mut path = module.clone();
                    path.push(child.to_owned());
                    paths.push(path);
                }
            }
        }
        let targets = paths
            .iter()
            .filter_map(|path| {
                (1..=path.len())
                    .rev()
                    .find_map(|n| files.get(&path[..n]))
                    .filter(|target| *target != file)
                    .cloned()
            })
            .collect();
        graph.insert(file.clone(), targets);
    }
    graph
}

#[test]
fn the_domain_imports_nothing_of_http_or_of_the_application() {
    let forbidden = [
        "axum",
        "hyper",
        "tower",
        "http::",
        "AppState",
        "crate::app",
        "crate::config",
        "crate::fixtures",
        "crate::zulip_api",
        "crate::test_control",
    ];
    let mut found = Vec::new();
    for (file, code) in sources() {
        if !file.starts_with("domain/") {
            continue;
        }
        for word in forbidden {
            if code.contains(word) {
                found.push(format!("{file} names {word}"));
            }
        }
    }
    assert_eq!(found, Vec::<String>::new());
}

/// A chain of imports that comes back to where it started, if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn from(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        let here = path.last().unwrap().clone();
        for next in graph.get(&here).into_iter().flatten() {
            if let Some(at) = path.iter().position(|file| file == next) {
                let mut cycle = path[at..].to_vec();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if !done.contains(next) {
                path.push(next.clone());
                if let Some(cycle) = from(graph, path, done) {
                    return Some(cycle);
                }
                path.pop();
            }
        }
        done.insert(here);
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|file| from(graph, &mut vec![file.clone()], &mut done))
}

#[test]
fn no_source_file_imports_itself_through_others() {
    let graph = imports();

    assert_eq!(find_cycle(&graph), None);
    // The reader sees imports of every kind.
    assert!(graph["zulip_api/mod.rs"].contains("zulip_api/presence_views.rs"));
    assert!(graph["zulip_api/authentication.rs"].contains("domain/store.rs"));
    assert!(graph["test_control/admin_stubs.rs"].contains("test_control/admin_io.rs"));
}

#[test]
fn the_import_reader_expands_use_trees_and_finds_a_cycle() {
    let module = vec!["zulip_api".to_owned(), "authentication".to_owned()];
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();

    assert_eq!(
        named_paths(
            "use crate::domain::{store::{Realm, User}, clock};\nsuper::x",
            &module
        ),
        vec![
            vec!["domain", "store", "Realm"],
            vec!["domain", "store", "User"],
            vec!["domain", "clock"],
            vec!["zulip_api", "x"],
        ]
    );
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
