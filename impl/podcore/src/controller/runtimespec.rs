//! What a real container runtime is asked for, decided purely from the Pod:
//! the labels that let a restarted kubelet find and adopt its sandboxes and
//! containers, log locations, Linux resources from requests and limits,
//! environment, whether an image must be pulled, and the CRI log format the
//! kubelet serves logs from. The CRI runtime (`kubelet::cri`) only turns
//! these into gRPC calls.

use crate::types::{Container, Pod};
use std::collections::BTreeMap;

/// Sandbox and container labels naming the pod (upstream's names, so
/// `crictl pods --label io.kubernetes.pod.name=...` works the same).
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// The node whose kubelet owns a sandbox or container, so that kubelets
/// sharing one runtime never touch each other's pods.
pub const LABEL_NODE: &str = "podchain.io/node";
/// Annotation carrying the pod's termination grace period on each container.
pub const ANNOTATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";

/// CFS period used for CPU limits (upstream: 100 ms).
pub const CPU_PERIOD_US: i64 = 100_000;
/// Smallest and largest cpu.shares (the kernel's bounds).
pub const MIN_CPU_SHARES: i64 = 2;
pub const MAX_CPU_SHARES: i64 = 262_144;
/// Smallest CFS quota (the kernel rejects less than 1 ms).
pub const MIN_CPU_QUOTA_US: i64 = 1_000;
/// Longest hostname (a DNS label).
pub const MAX_HOSTNAME_LEN: usize = 63;

pub fn sandbox_labels(pod: &Pod, node: &str) -> BTreeMap<String, String> {
    let m = &pod.metadata;
    BTreeMap::from([
        (LABEL_POD_NAME.to_string(), m.name.clone()),
        (LABEL_POD_NAMESPACE.to_string(), m.namespace.clone()),
        (LABEL_POD_UID.to_string(), m.uid.clone()),
        (LABEL_NODE.to_string(), node.to_string()),
    ])
}

pub fn container_labels(pod: &Pod, node: &str, container: &str) -> BTreeMap<String, String> {
    let mut l = sandbox_labels(pod, node);
    l.insert(LABEL_CONTAINER_NAME.into(), container.into());
    l
}

/// The pod's log directory under the kubelet's log root (upstream:
/// `/var/log/pods/<namespace>_<name>_<uid>`).
pub fn pod_log_dir(root: &str, namespace: &str, name: &str, uid: &str) -> String {
    format!("{}/{namespace}_{name}_{uid}", root.trim_end_matches('/'))
}

/// A container's log file, relative to the pod's log directory.
pub fn container_log_path(container: &str, attempt: u32) -> String {
    format!("{container}/{attempt}.log")
}

/// The sandbox's hostname: the pod name, cut to a DNS label.
pub fn hostname(pod: &Pod) -> String {
    let n = &pod.metadata.name;
    n[..n.len().min(MAX_HOSTNAME_LEN)].trim_end_matches(['-', '.']).to_string()
}

/// Linux resources for one container; zero means "not set".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinuxResources {
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_shares: i64,
    pub memory_limit_bytes: i64,
}

/// Requests and limits as cgroup settings, as upstream's kubelet maps them:
/// shares from the cpu request (limit when no request), quota from the cpu
/// limit, memory limit in bytes.
pub fn linux_resources(c: &Container) -> LinuxResources {
    let req = c.resources.requests.get("cpu").or_else(|| c.resources.limits.get("cpu")).map(|q| q.millis());
    let cpu_shares = match req {
        Some(m) if m > 0 => ((m * 1024) / 1000).clamp(MIN_CPU_SHARES as i128, MAX_CPU_SHARES as i128) as i64,
        _ => MIN_CPU_SHARES,
    };
    let (cpu_period, cpu_quota) = match c.resources.limits.get("cpu").map(|q| q.millis()) {
        Some(m) if m > 0 => (CPU_PERIOD_US, ((m * CPU_PERIOD_US as i128) / 1000).max(MIN_CPU_QUOTA_US as i128).min(i64::MAX as i128) as i64),
        _ => (0, 0),
    };
    let memory_limit_bytes = c.resources.limits.get("memory").map(|q| q.units().clamp(0, i64::MAX as i128) as i64).unwrap_or(0);
    LinuxResources { cpu_period, cpu_quota, cpu_shares, memory_limit_bytes }
}

/// The container's environment: literal values, with `$(VAR)` references to
/// earlier variables expanded and `$$` escaping a dollar (upstream's rules).
/// Variables whose value comes from elsewhere (`valueFrom`) are left out.
pub fn environment(c: &Container) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in &c.env {
        let Some(v) = &e.value else { continue };
        let expanded = expand(v, &out);
        out.push((e.name.clone(), expanded));
    }
    out
}

fn expand(s: &str, env: &[(String, String)]) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'(' {
                if let Some(end) = s[i + 2..].find(')') {
                    let name = &s[i + 2..i + 2 + end];
                    if let Some((_, v)) = env.iter().rev().find(|(k, _)| k == name) {
                        out.push_str(v);
                    } else {
                        out.push_str(&s[i..i + 3 + end]);
                    }
                    i += 3 + end;
                    continue;
                }
            }
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// What to do about a container's image before creating the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageDecision {
    Use,
    Pull,
    /// imagePullPolicy Never and the image is absent: `ErrImageNeverPull`.
    NeverPull,
}

pub fn image_decision(policy: &str, present: bool) -> ImageDecision {
    match (policy, present) {
        ("Always", _) => ImageDecision::Pull,
        ("Never", false) => ImageDecision::NeverPull,
        (_, true) => ImageDecision::Use,
        (_, false) => ImageDecision::Pull,
    }
}

/// One line of a CRI log file: `<RFC3339Nano> <stdout|stderr> <P|F> <text>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine<'a> {
    pub timestamp: &'a str,
    pub stream: &'a str,
    /// `P`: the line continues in the next record.
    pub partial: bool,
    pub text: &'a [u8],
}

pub fn parse_log_line(line: &[u8]) -> Option<LogLine<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |b| *b == b' ');
    let timestamp = std::str::from_utf8(parts.next()?).ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or(b"");
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    let partial = tag.split(|b| *b == b':').any(|t| t == b"P");
    Some(LogLine { timestamp, stream, partial, text })
}

/// Renders CRI log records as `kubectl logs` shows them: partial records
/// joined, one line each, optionally prefixed by the timestamp.
pub fn render_log(records: &[u8], timestamps: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at_line_start = true;
    for rec in records.split_inclusive(|b| *b == b'\n') {
        let Some(l) = parse_log_line(rec) else { continue };
        if timestamps && at_line_start {
            out.extend_from_slice(l.timestamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(l.text);
        if !l.partial {
            out.push(b'\n');
        }
        at_line_start = !l.partial;
    }
    out
}

/// The last `n` lines of rendered output.
pub fn tail_lines(rendered: &[u8], n: usize) -> &[u8] {
    if n == 0 {
        return &rendered[rendered.len()..];
    }
    let body = rendered.strip_suffix(b"\n").unwrap_or(rendered);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return &rendered[i + 1..];
            }
        }
    }
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EnvVar, ResourceRequirements};

    fn container(req_cpu: Option<&str>, lim_cpu: Option<&str>, lim_mem: Option<&str>) -> Container {
        let mut r = ResourceRequirements::default();
        if let Some(v) = req_cpu {
            r.requests.insert("cpu".into(), v.into());
        }
        if let Some(v) = lim_cpu {
            r.limits.insert("cpu".into(), v.into());
        }
        if let Some(v) = lim_mem {
            r.limits.insert("memory".into(), v.into());
        }
        Container { name: "c".into(), resources: r, ..Default::default() }
    }

    #[test]
    fn resources_map_like_upstream() {
        let r = linux_resources(&container(Some("250m"), Some("500m"), Some("64Mi")));
        assert_eq!(r, LinuxResources { cpu_period: 100_000, cpu_quota: 50_000, cpu_shares: 256, memory_limit_bytes: 64 << 20 });
        // No request: the limit sets the shares; nothing: the minimum.
        assert_eq!(linux_resources(&container(None, Some("2"), None)).cpu_shares, 2048);
        assert_eq!(linux_resources(&container(None, None, None)), LinuxResources { cpu_shares: MIN_CPU_SHARES, ..Default::default() });
        // Tiny limits are raised to the kernel's minimum quota.
        assert_eq!(linux_resources(&container(None, Some("1m"), None)).cpu_quota, MIN_CPU_QUOTA_US);
        assert_eq!(linux_resources(&container(Some("1000"), None, None)).cpu_shares, MAX_CPU_SHARES);
        // 256 cpus ask for exactly the most shares; more are clamped to it.
        assert_eq!(linux_resources(&container(Some("256"), None, None)).cpu_shares, MAX_CPU_SHARES);
        assert_eq!(linux_resources(&container(Some("255"), None, None)).cpu_shares, MAX_CPU_SHARES - 1024);
    }

    #[test]
    fn environment_expands_earlier_variables() {
        let mut c = Container::default();
        for (k, v) in [("A", "x"), ("B", "$(A)-y"), ("C", "$$(A) $(NOPE)")] {
            c.env.push(EnvVar { name: k.into(), value: Some(v.into()), ..Default::default() });
        }
        c.env.push(EnvVar { name: "FROM".into(), value: None, ..Default::default() });
        assert_eq!(environment(&c), vec![("A".into(), "x".into()), ("B".into(), "x-y".into()), ("C".into(), "$(A) $(NOPE)".into())]);
    }

    #[test]
    fn pull_decisions_follow_the_policy() {
        assert_eq!(image_decision("Always", true), ImageDecision::Pull);
        assert_eq!(image_decision("IfNotPresent", true), ImageDecision::Use);
        assert_eq!(image_decision("IfNotPresent", false), ImageDecision::Pull);
        assert_eq!(image_decision("Never", true), ImageDecision::Use);
        assert_eq!(image_decision("Never", false), ImageDecision::NeverPull);
    }

    #[test]
    fn cri_log_lines_render_and_tail() {
        let recs = b"2026-01-01T00:00:00.1Z stdout F one\n2026-01-01T00:00:01Z stderr P tw\n2026-01-01T00:00:02Z stderr F o\nnot a record\n2026-01-01T00:00:03Z stdout F three\n";
        assert_eq!(render_log(recs, false), b"one\ntwo\nthree\n");
        assert_eq!(render_log(recs, true), b"2026-01-01T00:00:00.1Z one\n2026-01-01T00:00:01Z two\n2026-01-01T00:00:03Z three\n");
        let all = render_log(recs, false);
        assert_eq!(tail_lines(&all, 2), b"two\nthree\n");
        assert_eq!(tail_lines(&all, 9), b"one\ntwo\nthree\n");
        assert_eq!(tail_lines(&all, 0), b"");
        assert_eq!(parse_log_line(b"t stdout F").unwrap().text, b"");
    }

    #[test]
    fn hostnames_are_dns_labels() {
        let mut p = Pod::default();
        p.metadata.name = format!("{}-x", "a".repeat(62));
        assert_eq!(hostname(&p), "a".repeat(62));
        assert_eq!(pod_log_dir("/var/log/pods/", "ns", "p", "u1"), "/var/log/pods/ns_p_u1");
        assert_eq!(container_log_path("web", 2), "web/2.log");
    }

    #[test]
    fn hostnames_are_cut_at_max_hostname_len() {
        let pod = |name: String| {
            let mut p = Pod::default();
            p.metadata.name = name;
            p
        };
        assert_eq!(hostname(&pod("a".repeat(MAX_HOSTNAME_LEN))), "a".repeat(MAX_HOSTNAME_LEN));
        assert_eq!(hostname(&pod("a".repeat(MAX_HOSTNAME_LEN + 1))), "a".repeat(MAX_HOSTNAME_LEN));
        // A cut that ends on a separator drops it: a label ends alphanumeric.
        let name = format!("{}-b", "a".repeat(MAX_HOSTNAME_LEN - 1));
        assert_eq!(hostname(&pod(name)), "a".repeat(MAX_HOSTNAME_LEN - 1));
    }
}
