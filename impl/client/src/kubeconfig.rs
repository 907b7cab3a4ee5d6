//! The kubeconfig subset podchain reads and writes: one cluster (server URL),
//! one user (optional bearer token), one context.

use serde_json::Value;
use std::path::Path;

pub struct KubeConfig {
    pub server: String,
    pub token: Option<String>,
}

pub fn read(path: &Path) -> Result<KubeConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
    let v: Value = serde_yaml::from_str(&text).map_err(|e| format!("kubeconfig {} is not valid YAML: {e}", path.display()))?;
    let ctx_name = v["current-context"].as_str().unwrap_or("");
    let ctx = v["contexts"].as_array().and_then(|cs| cs.iter().find(|c| c["name"] == ctx_name).or(cs.first())).map(|c| c["context"].clone()).unwrap_or(Value::Null);
    let cluster_name = ctx["cluster"].as_str().unwrap_or("");
    let user_name = ctx["user"].as_str().unwrap_or("");
    let cluster = v["clusters"].as_array().and_then(|cs| cs.iter().find(|c| c["name"] == cluster_name).or(cs.first())).map(|c| c["cluster"].clone()).unwrap_or(Value::Null);
    let user = v["users"].as_array().and_then(|us| us.iter().find(|u| u["name"] == user_name).or(us.first())).map(|u| u["user"].clone()).unwrap_or(Value::Null);
    let server = cluster["server"].as_str().ok_or_else(|| format!("kubeconfig {}: clusters[].cluster.server is missing", path.display()))?.to_string();
    Ok(KubeConfig { server, token: user["token"].as_str().map(str::to_string) })
}

pub fn render(server: &str, token: Option<&str>) -> String {
    let user = match token {
        Some(t) => format!("    token: {t}\n"),
        None => "    {}\n".to_string(),
    };
    let user = if token.is_some() { user } else { String::from("    username: admin\n") };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podchain\n  cluster:\n    server: {server}\ncontexts:\n- name: podchain\n  context:\n    cluster: podchain\n    user: admin\n    namespace: default\ncurrent-context: podchain\nusers:\n- name: admin\n  user:\n{user}preferences: {{}}\n"
    )
}

/// Writes atomically (temp file + rename) with mode 0600.
pub fn write(path: &Path, server: &str, token: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    f.write_all(render(server, token).as_bytes()).and_then(|_| f.sync_all()).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_kubeconfig_reads_back() {
        let dir = std::env::temp_dir().join(format!("kc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("kubeconfig");
        write(&p, "http://127.0.0.1:6443", None).unwrap();
        let kc = read(&p).unwrap();
        assert_eq!(kc.server, "http://127.0.0.1:6443");
        assert_eq!(kc.token, None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
