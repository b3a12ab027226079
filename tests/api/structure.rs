//! The code's structure, checked from its own text: the top-level modules of
//! `src/` depend on each other in one direction only, no files of one
//! folder import each other in a circle, `domain/` imports nothing of ours
//! but `domain/`, and `live/` imports nothing from `web/` or `api/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files (module paths) and the files each one names.
type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// A source file: its module path (`["web", "tasks"]`) and text.
struct Source {
    module: Vec<String>,
    /// A folder's `mod.rs` (its module path is the folder's).
    is_mod_file: bool,
    /// The path under `src/`.
    path: String,
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("under src");
            let mut module: Vec<String> =
                relative.iter().map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
            let is_mod_file = module.last().is_some_and(|last| last == "mod");
            if is_mod_file || module == ["lib"] || module == ["main"] {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            Source { module, is_mod_file, path: relative.display().to_string(), text }
        })
        .collect()
}

/// The code of a file without its comments and its `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .filter(|line| !line.trim_start().starts_with("pub mod ") && !line.trim_start().starts_with("mod "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b::…` path a file names, as its segments (a
/// `use crate::{a, b}` group counts for each member).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        out.extend(expand(rest));
    }
    out
}

/// The paths starting at `text`: `a::b::c`, or `a::{b, c::d}` as two.
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            if let Some(group) = rest.strip_prefix('{') {
                return members(group)
                    .into_iter()
                    .flat_map(|member| {
                        expand(member).into_iter().map(|tail| segments.iter().cloned().chain(tail).collect())
                    })
                    .collect();
            }
            return vec![segments];
        }
        rest = &rest[name.len()..];
        segments.push(name);
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => return vec![segments],
        }
    }
}

/// The members of a `{…}` group (the text after its `{`), split at its
/// own commas, not those of nested groups.
fn members(group: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0usize, 0, Vec::new());
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(group[start..i].trim());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(group[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.into_iter().filter(|m| !m.is_empty()).collect()
}

/// The module each file depends on, resolved to files: module path → the
/// module paths of files it names.
fn dependencies(sources: &[Source]) -> Graph {
    let files: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    // The longest prefix of `path` that is a file of ours.
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| files.contains(prefix))
    };
    let mut graph = BTreeMap::new();
    for source in sources {
        let code = code(&source.text);
        let mut targets = BTreeSet::new();
        for path in crate_paths(&code) {
            if let Some(target) = resolve(&path) {
                targets.insert(target);
            }
        }
        // `super::x` in a file names a sibling (or the folder's own mod.rs).
        // (For a mod.rs, its module path is the folder, so the same holds.)
        let parent: Vec<String> = source.module[..source.module.len().saturating_sub(1)].to_vec();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("super::") {
            rest = &rest[at + "super::".len()..];
            for tail in expand(rest) {
                let path: Vec<String> = parent.iter().cloned().chain(tail).collect();
                if let Some(target) = resolve(&path) {
                    targets.insert(target);
                }
            }
        }
        // A mod.rs naming its children's items (`child::item`), beyond
        // declaring and re-exporting them, depends on them.
        if source.is_mod_file {
            for child in files.iter().filter(|f| f.len() == source.module.len() + 1 && f.starts_with(&source.module)) {
                let name = format!("{}::", child[child.len() - 1]);
                let uses = code.lines().filter(|l| !l.trim_start().starts_with("pub use ")).any(|line| {
                    line.match_indices(&name)
                        .any(|(at, _)| !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':'))
                });
                if uses {
                    targets.insert(child.clone());
                }
            }
        }
        targets.remove(&source.module);
        graph.insert(source.module.clone(), targets);
    }
    graph
}

/// A circle in `graph`, if any (as the nodes on it).
fn find_circle<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        node: &N,
        graph: &BTreeMap<N, BTreeSet<N>>,
        done: &mut BTreeSet<N>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some(stack[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn top_level_modules_depend_one_way() {
    let sources = sources();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, targets) in dependencies(&sources) {
        let Some(from) = file.first() else { continue };
        let entry = top.entry(from.clone()).or_default();
        entry.extend(targets.iter().filter_map(|t| t.first()).filter(|t| *t != from).cloned());
    }
    assert_eq!(find_circle(&top), None, "top-level modules import each other in a circle");
    let domain = &top["domain"];
    assert!(domain.is_empty(), "domain/ imports only domain/, not {domain:?}");
    let live = &top["live"];
    assert!(!live.contains("web") && !live.contains("api"), "live/ imports nothing from web/ or api/: {live:?}");
}

#[test]
fn files_of_a_folder_import_each_other_one_way() {
    let sources = sources();
    let graph = dependencies(&sources);
    let mod_files: BTreeSet<Vec<String>> = sources.iter().filter(|s| s.is_mod_file).map(|s| s.module.clone()).collect();
    // The folder a file is in: a mod.rs is in the folder it heads.
    let folder_of = |module: &Vec<String>| -> Vec<String> {
        if mod_files.contains(module) { module.clone() } else { module[..module.len().saturating_sub(1)].to_vec() }
    };
    let mut by_folder: BTreeMap<Vec<String>, Graph> = BTreeMap::new();
    for (file, targets) in &graph {
        let folder = folder_of(file);
        let siblings: BTreeSet<Vec<String>> = targets.iter().filter(|t| folder_of(t) == folder).cloned().collect();
        by_folder.entry(folder).or_default().insert(file.clone(), siblings);
    }
    for (folder, files) in by_folder {
        let circle = find_circle(&files);
        assert_eq!(circle, None, "files in src/{} import each other in a circle", folder.join("/"));
    }
}

/// Files past this many lines are asking to be split along a seam.
const MAX_LINES: usize = 400;

#[test]
fn no_file_is_over_400_lines_without_a_reason_at_its_top() {
    let mut long = Vec::new();
    for source in sources() {
        let lines = source.text.lines().count();
        let head: String = source.text.lines().take(12).collect::<Vec<_>>().join("\n");
        if lines > MAX_LINES && !head.contains("Longer than 400 lines:") {
            long.push(format!("src/{} ({lines} lines)", source.path));
        }
    }
    assert!(long.is_empty(), "split these, or say at the top why not (\"Longer than 400 lines: …\"): {long:?}");
}

/// A handler does one thing: extract, authorize, call a service, answer.
const MAX_HANDLER_LINES: usize = 40;

#[test]
fn no_handler_is_over_40_lines() {
    let mut long = Vec::new();
    for source in sources().into_iter().filter(|s| matches!(s.module.first().map(String::as_str), Some("web" | "api")))
    {
        let lines: Vec<&str> = source.text.lines().collect();
        for (start, _) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("pub async fn ")) {
            let length = lines[start..].iter().position(|l| *l == "}").map_or(lines.len() - start, |end| end + 1);
            if length > MAX_HANDLER_LINES {
                long.push(format!("src/{}:{} ({length} lines)", source.path, start + 1));
            }
        }
    }
    assert!(long.is_empty(), "move the work of these into helpers or a service: {long:?}");
}

#[test]
fn the_checker_sees_groups_and_nested_paths() {
    let paths =
        crate_paths("use crate::http::{access::{CurrentUser, check}, errors::AppError};\nlet x = crate::db::now();");
    assert!(paths.contains(&vec!["http".to_string(), "access".into(), "CurrentUser".into()]));
    assert!(paths.contains(&vec!["http".to_string(), "errors".into(), "AppError".into()]));
    assert!(paths.contains(&vec!["db".to_string(), "now".into()]));
    let mut graph = BTreeMap::new();
    graph.insert(1, BTreeSet::from([2]));
    graph.insert(2, BTreeSet::from([1]));
    assert!(find_circle(&graph).is_some());
}
