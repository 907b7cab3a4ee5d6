//! Architecture invariant: the core's modules stand in one order. A module
//! may use only modules below it, so there is no circle of `use crate::`
//! (or `super::`) references between the core's files. This test reads every
//! source file, builds the graph of references between modules and fails
//! with the circle when it has one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module a source file defines: `labels.rs` → `labels`,
/// `controller/mod.rs` → `controller`, `controller/gc.rs` → `controller::gc`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| *p != "mod").collect();
    parts.join("::")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The longest known module that a path (`a::b::c`) starts with.
fn resolve(modules: &BTreeSet<String>, path: &[&str]) -> Option<String> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m))
}

/// Every module a file refers to through `crate::` or `super::`.
fn references(modules: &BTreeSet<String>, this: &str, text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let parent: Vec<&str> = {
        let mut p: Vec<&str> = this.split("::").collect();
        p.pop();
        p
    };
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (anchor, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
            let mut rest = code;
            while let Some(i) = rest.find(anchor) {
                // `super::` inside `crate::x::super::` does not occur; a preceding identifier
                // character means this is part of a longer name.
                let before = rest[..i].chars().last();
                rest = &rest[i + anchor.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                // `crate::a::b` names one path; `crate::{a, b::c}` several (one level of braces).
                let items: Vec<&str> = match rest.strip_prefix('{') {
                    Some(inner) => inner.split('}').next().unwrap_or("").split(',').map(str::trim).collect(),
                    None => vec![rest],
                };
                for item in items {
                    let path: Vec<&str> = item.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).next().unwrap_or("").split("::").filter(|s| !s.is_empty()).collect();
                    let mut full: Vec<&str> = base.clone();
                    full.extend(path);
                    if let Some(m) = resolve(modules, &full) {
                        if m != this {
                            out.insert(m);
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_core_modules_have_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeSet<String> = all.iter().map(|f| module_of(&src, f)).filter(|m| m != "lib").collect();
    assert!(modules.len() > 15 && modules.contains("names") && modules.contains("controller::scheduler"), "found {modules:?}");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &all {
        let m = module_of(&src, f);
        if m == "lib" {
            continue;
        }
        edges.insert(m.clone(), references(&modules, &m, &std::fs::read_to_string(f).unwrap()));
    }
    // The reference that started the circle this test was written for.
    assert!(edges["labels"].contains("names") && !edges["labels"].contains("validation"), "labels takes its name grammar from names: {:?}", edges["labels"]);
    assert!(edges["names"].is_empty(), "names is the bottom layer and uses nothing: {:?}", edges["names"]);
    // Kahn's algorithm: repeatedly take a module whose references are all taken.
    let mut placed: Vec<String> = Vec::new();
    let mut left: BTreeSet<String> = modules.clone();
    loop {
        let ready: Vec<String> = left.iter().filter(|m| edges[*m].iter().all(|d| !left.contains(d))).cloned().collect();
        if ready.is_empty() {
            break;
        }
        for m in ready {
            left.remove(&m);
            placed.push(m);
        }
    }
    if !left.is_empty() {
        // Walk references inside what is left until a module repeats: that is a circle.
        let mut path = vec![left.iter().next().unwrap().clone()];
        loop {
            let next = edges[path.last().unwrap()].iter().find(|d| left.contains(*d)).unwrap().clone();
            if let Some(i) = path.iter().position(|m| *m == next) {
                let circle: Vec<String> = path[i..].iter().cloned().chain([next]).collect();
                panic!("the core's modules reference each other in a circle: {}", circle.join(" -> "));
            }
            path.push(next);
        }
    }
    assert_eq!(placed.len(), modules.len());
}
