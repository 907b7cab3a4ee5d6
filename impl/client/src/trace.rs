//! Writes decision traces (`podcore::trace`) when `PODCHAIN_TRACE_DIR` is
//! set: one JSON line per decision into `<dir>/<component>-<pid>.jsonl`,
//! written whole and unbuffered, so a process killed with -9 leaves at most
//! one torn final line (which readers skip).

use podcore::trace::Record;
use std::io::Write;
use std::sync::Mutex;

/// The environment variable naming the directory traces go to.
pub const TRACE_DIR_ENV: &str = "PODCHAIN_TRACE_DIR";

pub struct Tracer {
    component: String,
    file: Option<Mutex<std::fs::File>>,
}

impl Tracer {
    /// A tracer for `component`, writing only when `PODCHAIN_TRACE_DIR` is set.
    pub fn from_env(component: &str) -> Tracer {
        let file = std::env::var_os(TRACE_DIR_ENV).and_then(|dir| {
            let safe: String = component.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            let path = std::path::Path::new(&dir).join(format!("{safe}-{}.jsonl", std::process::id()));
            match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    eprintln!("{component}: not tracing: opening {}: {e}", path.display());
                    None
                }
            }
        });
        Tracer { component: component.into(), file }
    }

    pub fn disabled() -> Tracer {
        Tracer { component: String::new(), file: None }
    }

    /// Whether records are written (build them only then: they copy the inputs).
    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    pub fn record(&self, r: &Record) {
        let Some(f) = &self.file else { return };
        let mut v = r.to_json(&self.component);
        // Wall-clock order across the files of one component (a restarted
        // process writes a new file).
        v["at"] = serde_json::json!(crate::clock::wall_now().0);
        let mut line = v.to_string();
        line.push('\n');
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        let _ = f.write_all(line.as_bytes());
    }
}
