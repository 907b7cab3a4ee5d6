//! The kubeconfig file, typed: clusters, users and contexts by name, and the
//! current context, as kubectl reads and writes it (client-go's
//! `clientcmd/api/v1`). podchain writes the admin kubeconfig from these
//! types and reads any kubeconfig kubectl wrote. Fields podchain does not
//! use are kept (`extra`), so reading and writing a file loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The name podchain gives its cluster, user and context.
pub const PODCHAIN_NAME: &str = "podchain";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeConfig {
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    #[serde(rename = "current-context", default)]
    pub current_context: String,
    #[serde(default)]
    pub users: Vec<NamedUser>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Cluster,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub server: String,
    #[serde(rename = "certificate-authority-data", default, skip_serializing_if = "String::is_empty")]
    pub certificate_authority_data: String,
    #[serde(rename = "certificate-authority", default, skip_serializing_if = "String::is_empty")]
    pub certificate_authority: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: Context,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub cluster: String,
    #[serde(default)]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    #[serde(default)]
    pub user: User,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(rename = "client-certificate-data", default, skip_serializing_if = "String::is_empty")]
    pub client_certificate_data: String,
    #[serde(rename = "client-key-data", default, skip_serializing_if = "String::is_empty")]
    pub client_key_data: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// What a client needs from the current context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub context: String,
    pub server: String,
    pub token: Option<String>,
    pub namespace: String,
}

impl KubeConfig {
    /// The kubeconfig `podchain server` writes: one cluster, one user, one
    /// context, all named `podchain`.
    pub fn single(server: &str, token: Option<&str>) -> KubeConfig {
        KubeConfig {
            api_version: "v1".into(),
            kind: "Config".into(),
            clusters: vec![NamedCluster { name: PODCHAIN_NAME.into(), cluster: Cluster { server: server.into(), ..Default::default() } }],
            contexts: vec![NamedContext { name: PODCHAIN_NAME.into(), context: Context { cluster: PODCHAIN_NAME.into(), user: PODCHAIN_NAME.into(), namespace: "default".into(), ..Default::default() } }],
            current_context: PODCHAIN_NAME.into(),
            users: vec![NamedUser { name: PODCHAIN_NAME.into(), user: User { token: token.map(str::to_string), ..Default::default() } }],
            extra: BTreeMap::new(),
        }
    }

    pub fn parse(text: &str) -> Result<KubeConfig, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("a kubeconfig always serialises")
    }

    /// The context to use: `name`, or the current context. As kubectl, a
    /// current context that names nothing is an error; with none set, a
    /// file with exactly one context uses it.
    pub fn resolve(&self, name: Option<&str>) -> Result<Resolved, String> {
        let ctx_name = match name.filter(|n| !n.is_empty()).or(Some(self.current_context.as_str()).filter(|n| !n.is_empty())) {
            Some(n) => n.to_string(),
            None if self.contexts.len() == 1 => self.contexts[0].name.clone(),
            None => return Err(format!("current-context is not set and there are {} contexts; name one", self.contexts.len())),
        };
        let ctx = &self.contexts.iter().find(|c| c.name == ctx_name).ok_or_else(|| format!("context {ctx_name:?} is not among contexts[].name"))?.context;
        let cluster = &self.clusters.iter().find(|c| c.name == ctx.cluster).ok_or_else(|| format!("context {ctx_name:?} names cluster {:?}, which is not among clusters[].name", ctx.cluster))?.cluster;
        if cluster.server.is_empty() {
            return Err(format!("cluster {:?} has no server", ctx.cluster));
        }
        let user = match ctx.user.as_str() {
            "" => None,
            u => Some(&self.users.iter().find(|n| n.name == u).ok_or_else(|| format!("context {ctx_name:?} names user {u:?}, which is not among users[].name"))?.user),
        };
        Ok(Resolved { context: ctx_name, server: cluster.server.clone(), token: user.and_then(|u| u.token.clone()), namespace: ctx.namespace.clone() })
    }
}

/// Reads a kubeconfig file and resolves its current context.
pub fn read(path: &Path) -> Result<Resolved, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
    KubeConfig::parse(&text).and_then(|kc| kc.resolve(None)).map_err(|e| format!("kubeconfig {}: {e}", path.display()))
}

/// Writes atomically (temp file + rename) with mode 0600.
pub fn write(path: &Path, kc: &KubeConfig) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    f.write_all(kc.to_yaml().as_bytes()).and_then(|_| f.sync_all()).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_kubeconfig_reads_back_with_a_token_that_needs_quoting() {
        let dir = std::env::temp_dir().join(format!("kc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("kubeconfig");
        // A token YAML would read as something else when unquoted.
        for token in [None, Some("abc: def # not a comment"), Some("true"), Some("- x")] {
            write(&p, &KubeConfig::single("http://127.0.0.1:6443", token)).unwrap();
            let r = read(&p).unwrap();
            assert_eq!((r.server.as_str(), r.token.as_deref(), r.namespace.as_str()), ("http://127.0.0.1:6443", token, "default"));
        }
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The shape kubectl writes after `config set-cluster`, `set-credentials`,
    /// `set-context` and `use-context` on top of another file.
    const KUBECTL_WRITTEN: &str = r#"apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://10.0.0.1:6443
  name: prod
- cluster:
    server: http://127.0.0.1:6443
  name: podchain
contexts:
- context:
    cluster: prod
    user: admin@prod
  name: prod
- context:
    cluster: podchain
    namespace: team-a
    user: dev
  name: local
current-context: local
kind: Config
preferences: {}
users:
- name: admin@prod
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: dev
  user:
    token: s3cr3t
"#;

    #[test]
    fn reads_the_kubeconfig_kubectl_writes() {
        let kc = KubeConfig::parse(KUBECTL_WRITTEN).unwrap();
        let r = kc.resolve(None).unwrap();
        assert_eq!(r, Resolved { context: "local".into(), server: "http://127.0.0.1:6443".into(), token: Some("s3cr3t".into()), namespace: "team-a".into() });
        let prod = kc.resolve(Some("prod")).unwrap();
        assert_eq!((prod.server.as_str(), prod.token.as_deref(), prod.namespace.as_str()), ("https://10.0.0.1:6443", None, ""));
        assert!(kc.resolve(Some("staging")).unwrap_err().contains("staging"));
        // Nothing is lost on a round trip, not even fields podchain ignores.
        assert_eq!(KubeConfig::parse(&kc.to_yaml()).unwrap(), kc);
        assert!(kc.extra.contains_key("preferences"));
    }

    #[test]
    fn a_current_context_that_names_nothing_is_an_error() {
        let mut kc = KubeConfig::parse(KUBECTL_WRITTEN).unwrap();
        kc.current_context = "gone".into();
        assert!(kc.resolve(None).unwrap_err().contains("\"gone\""));
        kc.current_context.clear();
        assert!(kc.resolve(None).unwrap_err().contains("current-context is not set"));
        kc.contexts.truncate(1);
        assert_eq!(kc.resolve(None).unwrap().context, "prod");
        kc.contexts[0].context.cluster = "elsewhere".into();
        assert!(kc.resolve(None).unwrap_err().contains("elsewhere"));
    }
}
