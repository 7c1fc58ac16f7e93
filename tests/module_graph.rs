//! The shape of the code: no import cycle between the top-level modules of
//! `src/`, nor between the files of one top-level module. An edge is any
//! `crate::name` path (in `use` or inline) in a file of another module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Source text without comments, so a path in a doc comment is no edge.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `crate::a::b::{c, d}` and `crate::a::b` paths: the first `depth`
/// segments after `crate::`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `payforms_crate::` and the like
        }
        let rest = &code[at + "crate::".len()..];
        let path: Vec<String> = rest
            .split("::")
            .map(|seg| {
                seg.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|seg| !seg.is_empty())
            .take(2)
            .collect();
        if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

/// `src/gateway/request.rs` -> (`gateway`, `request`); `src/cli.rs` -> (`cli`, ``).
fn module_of(src: &Path, file: &Path) -> (String, String) {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let top = parts[0].clone();
    let sub = parts.get(1).cloned().unwrap_or_default();
    (top, if sub == "mod" { String::new() } else { sub })
}

/// A cycle in `graph`, as the list of its nodes, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Iterative depth-first search with colours.
    let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
    for start in graph.keys() {
        if colour.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, graph[start].iter().map(String::as_str).collect())];
        colour.insert(start, 1);
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            match next.pop() {
                Some(child) => match colour.get(child).copied().unwrap_or(0) {
                    0 => {
                        colour.insert(child, 1);
                        let children = graph
                            .get(child)
                            .map(|c| c.iter().map(String::as_str).collect())
                            .unwrap_or_default();
                        stack.push((child, children));
                    }
                    1 => {
                        let mut cycle: Vec<String> = stack.iter().map(|(n, _)| n.to_string()).collect();
                        let from = cycle.iter().position(|n| n == child).unwrap_or(0);
                        cycle.drain(..from);
                        cycle.push(child.to_string());
                        return Some(cycle);
                    }
                    _ => {}
                },
                None => {
                    colour.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

/// Cycles one by one: each found cycle's closing edge is removed before
/// looking again, so every independent cycle is reported once.
fn all_cycles(mut graph: BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut cycles = Vec::new();
    while let Some(cycle) = find_cycle(&graph) {
        let n = cycle.len();
        if let Some(edges) = graph.get_mut(&cycle[n - 2]) {
            edges.remove(&cycle[n - 1]);
        }
        cycles.push(cycle);
    }
    cycles
}

#[test]
fn no_import_cycles_between_or_inside_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inside: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in rust_files(&src) {
        let (module, sub) = module_of(&src, &file);
        // Unit-test files (`tests.rs`, `tests_postgres.rs`) may reach anywhere.
        let is_test_file = file
            .file_stem()
            .is_some_and(|stem| stem.to_string_lossy().starts_with("tests"));
        if module == "lib" || module == "main" || is_test_file {
            continue;
        }
        let text = fs::read_to_string(&file).expect("source file is readable");
        // Unit tests may reach anywhere.
        let text = match text.find("#[cfg(test)]") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        top.entry(module.clone()).or_default();
        for path in crate_paths(&code_only(&text)) {
            if path[0] != module {
                top.entry(module.clone()).or_default().insert(path[0].clone());
            } else if let Some(target) = path.get(1) {
                if !sub.is_empty() && *target != sub {
                    inside
                        .entry(module.clone())
                        .or_default()
                        .entry(sub.clone())
                        .or_default()
                        .insert(target.clone());
                }
            }
        }
        // `super::x` in `src/module/sub.rs` is an edge to its sibling `x`.
        let at_depth_two = file.parent().is_some_and(|p| p == src.join(&module));
        if !sub.is_empty() && at_depth_two {
            for (at, _) in text.match_indices("super::") {
                let target: String = text[at + "super::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let is_sibling = src.join(&module).join(format!("{target}.rs")).exists()
                    || src.join(&module).join(&target).join("mod.rs").exists();
                if is_sibling && target != sub {
                    inside
                        .entry(module.clone())
                        .or_default()
                        .entry(sub.clone())
                        .or_default()
                        .insert(target);
                }
            }
        }
    }
    let mut problems = Vec::new();
    for cycle in all_cycles(top) {
        problems.push(format!("between top-level modules: {}", cycle.join(" -> ")));
    }
    for (module, graph) in inside {
        for cycle in all_cycles(graph) {
            problems.push(format!("inside `{module}`: {}", cycle.join(" -> ")));
        }
    }
    assert!(problems.is_empty(), "import cycles:\n{}", problems.join("\n"));
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&graph), None);
    graph.entry("c".into()).or_default().insert("a".into());
    let cycle = find_cycle(&graph).expect("a -> b -> c -> a");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
}
