//! Architecture invariant: the core performs no IO, reads no clock and cannot
//! reach an async runtime. This test fails if podcore's dependency graph
//! contains tokio, tonic, prost, hyper or any other IO crate, or if its
//! source mentions a clock, the file system, the network, threads or
//! randomness.

use std::path::Path;
use std::process::Command;

const FORBIDDEN_CRATES: &[&str] = &["tokio", "tonic", "prost", "hyper", "mio", "socket2", "rand", "getrandom", "async-std", "futures"];
const FORBIDDEN_TEXT: &[&str] = &["SystemTime::now", "Instant::now", "std::fs", "std::net", "std::thread", "std::process", "std::env", "tokio", "hyper", "tonic", "prost", "unsafe "];

#[test]
fn dependency_graph_has_no_io_crates() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-e", "normal,build", "--prefix", "none", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("serde_json"), "cargo tree output looks wrong:\n{tree}");
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(!FORBIDDEN_CRATES.contains(&name), "podcore must not depend on {name} (found in: {line})");
    }
}

#[test]
fn source_reads_no_clock_and_does_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Doc comments may name what the crate avoids; code may not use it.
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for bad in FORBIDDEN_TEXT {
                    assert!(!code.contains(bad), "{}:{}: podcore must not use {bad}: {line}", path.display(), i + 1);
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 10, "expected to check the core's sources, checked {checked}");
}
