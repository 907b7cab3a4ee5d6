//! A small, strict command-line parser: `--flag value` or `--flag=value`,
//! unknown flags are errors, every flag is documented in the subcommand's
//! help text.

use std::collections::BTreeMap;

pub struct Args {
    values: BTreeMap<String, String>,
}

impl Args {
    /// Parses `argv` against the flags `allowed` (name without dashes).
    pub fn parse(argv: &[String], allowed: &[&str], help: &str) -> Result<Args, String> {
        let mut values = BTreeMap::new();
        let mut i = 0;
        while i < argv.len() {
            let a = &argv[i];
            if a == "--help" || a == "-h" {
                print!("{help}");
                std::process::exit(0);
            }
            let Some(flag) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}\n\n{help}"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    i += 1;
                    let v = argv.get(i).ok_or_else(|| format!("--{flag} needs a value\n\n{help}"))?;
                    (flag.to_string(), v.clone())
                }
            };
            if !allowed.contains(&name.as_str()) {
                return Err(format!("unknown flag --{name}\n\n{help}"));
            }
            values.insert(name, value);
            i += 1;
        }
        Ok(Args { values })
    }

    pub fn str(&self, name: &str, default: &str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| default.to_string())
    }

    pub fn opt(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: expected a number, got {v:?}")),
        }
    }
}
