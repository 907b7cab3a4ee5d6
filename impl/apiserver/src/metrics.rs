//! Request counts, served on `/metrics` in Prometheus' text format: every
//! request answered by client (the first word of its User-Agent, as
//! upstream's components send `kube-controller-manager/v1.32…`), verb
//! (upstream's: GET, LIST, WATCH, POST, PUT, PATCH, DELETE), resource and
//! HTTP code; and every watch ended with 410 Gone, by client and resource,
//! since each makes an informer relist. This is how a test tells which
//! component lists what, and a user which client loads the server.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Longest client name kept from a User-Agent (the rest is cut off).
pub const MAX_CLIENT_NAME: usize = 64;
/// Distinct clients counted apart; requests of any further client are
/// counted under `OTHER_CLIENTS`, so a client that makes up a new
/// User-Agent per request cannot grow the server's memory.
pub const MAX_CLIENTS: usize = 256;
pub const OTHER_CLIENTS: &str = "other";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    client: String,
    verb: &'static str,
    resource: String,
    code: u16,
}

#[derive(Default)]
struct Counts {
    requests: BTreeMap<RequestKey, u64>,
    expired: BTreeMap<(String, String), u64>,
    clients: std::collections::BTreeSet<String>,
}

#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

/// The client a User-Agent names: its first word up to the version
/// (`podchain-kubelet/n1` → `podchain-kubelet`), only characters a label
/// value needs no escaping for, at most `MAX_CLIENT_NAME` of them.
pub fn client_of(user_agent: &str) -> String {
    let word = user_agent.split(['/', ' ']).next().unwrap_or("");
    let name: String = word.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(MAX_CLIENT_NAME).collect();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

impl Counts {
    /// `client`, or `OTHER_CLIENTS` once `MAX_CLIENTS` others are counted.
    fn admit(&mut self, client: String) -> String {
        if self.clients.contains(&client) {
            return client;
        }
        if self.clients.len() < MAX_CLIENTS {
            self.clients.insert(client.clone());
            return client;
        }
        OTHER_CLIENTS.into()
    }
}

impl Metrics {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn request(&self, user_agent: &str, verb: &'static str, resource: &str, code: u16) {
        let mut c = self.counts();
        let client = c.admit(client_of(user_agent));
        *c.requests.entry(RequestKey { client, verb, resource: resource.to_string(), code }).or_default() += 1;
    }

    /// A watch of `resource` was answered 410 Gone (at its start or as its
    /// last event): its client must relist.
    pub fn watch_expired(&self, user_agent: &str, resource: &str) {
        let mut c = self.counts();
        let client = c.admit(client_of(user_agent));
        *c.expired.entry((client, resource.to_string())).or_default() += 1;
    }

    /// Prometheus' text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let c = self.counts();
        let mut out = String::new();
        out.push_str("# HELP podchain_apiserver_requests_total Requests answered, by client (its User-Agent's first word), verb, resource and HTTP code.\n");
        out.push_str("# TYPE podchain_apiserver_requests_total counter\n");
        for (k, n) in &c.requests {
            let _ = writeln!(out, "podchain_apiserver_requests_total{{client=\"{}\",verb=\"{}\",resource=\"{}\",code=\"{}\"}} {n}", k.client, k.verb, k.resource, k.code);
        }
        out.push_str("# HELP podchain_apiserver_watch_expired_total Watches ended with 410 Gone (resource version too old), by client and resource; each makes an informer relist.\n");
        out.push_str("# TYPE podchain_apiserver_watch_expired_total counter\n");
        for ((client, resource), n) in &c.expired {
            let _ = writeln!(out, "podchain_apiserver_watch_expired_total{{client=\"{client}\",resource=\"{resource}\"}} {n}");
        }
        out
    }
}

/// Parses `render`'s output back (for tests and the benchmark): each
/// sample's metric name, labels and value.
pub fn parse(text: &str) -> Vec<(String, BTreeMap<String, String>, u64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let (name, labels) = head.split_once('{').unwrap_or((head, "}"));
            let labels = labels.strip_suffix('}')?.split(',').filter(|p| !p.is_empty()).filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k.to_string(), v.trim_matches('"').to_string()))
            });
            Some((name.to_string(), labels.collect(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_the_first_word_of_its_user_agent() {
        assert_eq!(client_of("podchain-kubelet/n0001"), "podchain-kubelet");
        assert_eq!(client_of("kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9"), "kubectl");
        assert_eq!(client_of(""), "unknown");
        assert_eq!(client_of("a\"b\\c=d,e"), "abcde", "nothing that would need escaping in a label");
        assert_eq!(client_of(&"x".repeat(MAX_CLIENT_NAME + 1)).len(), MAX_CLIENT_NAME);
    }

    #[test]
    fn clients_beyond_the_bound_are_counted_together() {
        let m = Metrics::default();
        for i in 0..MAX_CLIENTS {
            m.request(&format!("c{i}"), "GET", "pods", 200);
        }
        m.request("one-too-many", "LIST", "pods", 200);
        m.request("yet-another", "LIST", "pods", 200);
        m.request("c0", "LIST", "pods", 200);
        m.watch_expired("c1", "pods");
        let samples = parse(&m.render());
        let count = |client: &str, verb: &str| samples.iter().filter(|(n, l, _)| n == "podchain_apiserver_requests_total" && l["client"] == client && l["verb"] == verb).map(|s| s.2).sum::<u64>();
        assert_eq!(count(OTHER_CLIENTS, "LIST"), 2);
        assert_eq!(count("c0", "LIST"), 1, "a client counted before the bound keeps its name");
        assert_eq!(samples.iter().filter(|(n, l, _)| n == "podchain_apiserver_requests_total" && l["client"] != OTHER_CLIENTS).map(|s| &s.1["client"]).collect::<std::collections::BTreeSet<_>>().len(), MAX_CLIENTS);
        assert!(samples.iter().any(|(n, l, v)| n == "podchain_apiserver_watch_expired_total" && l["client"] == "c1" && l["resource"] == "pods" && *v == 1));
    }
}
