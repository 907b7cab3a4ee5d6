//! Real kubectl (v1.32, from the machine) against `podchain server` and one
//! `podchain kubelet --runtime sim`, with kubectl's default validation: no
//! `--validate=false` anywhere. kubectl finds from the OpenAPI v3 documents
//! that the server validates fields itself, and sends `fieldValidation=Strict`.
//!
//! The session, in order: apply creates; a rollout completes; applying the
//! same file again changes nothing; a changed file configures; a misspelt
//! field is refused naming its path and changes nothing; under
//! `--validate=warn` it is warned about and not stored, so the next clean
//! apply settles; `set image`, rollout history and undo; scale; the Table
//! output, `-o wide` too; drain (evictions in protobuf) and uncordon; delete
//! waits until the Deployment is gone and the garbage collector removes its
//! pods.

use client::{Client, ListOptions};
use podcore::object::Kind;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tests::{free_port, temp_dir, wait_for, wait_healthy, Proc};

const T: Duration = Duration::from_secs(60);

/// Runs kubectl; returns (success, stdout, stderr).
fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl").arg("--kubeconfig").arg(kubeconfig).args(args).output().expect("kubectl is installed");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs kubectl and insists it succeeds; returns stdout and stderr together.
fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let (success, out, err) = kubectl(kubeconfig, args);
    assert!(success, "kubectl {}: {err}{out}", args.join(" "));
    format!("{out}{err}")
}

fn manifest(replicas: u32, pull_policy_field: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: podchain.local/sample:1
        {pull_policy_field}: Never
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_with_default_validation_scales_prints_and_deletes() {
    let dir = temp_dir("e2e-kubectl");
    let api = format!("127.0.0.1:{}", free_port());
    let data = dir.join("data");
    let _server = Proc::start("server", &["server".into(), "--data-dir".into(), data.display().to_string(), "--listen".into(), api.clone()], &dir);
    wait_healthy(&format!("http://{api}"), T).await;
    let kc = data.join("kubeconfig");
    let _kubelet = Proc::start("kubelet", &["kubelet", "--node", "node-1", "--kubeconfig", kc.to_str().unwrap(), "--runtime", "sim", "--listen", &format!("127.0.0.1:{}", free_port()), "--sync-interval-ms", "200"].map(String::from), &dir);
    let c = Client::from_kubeconfig(&kc, "e2e-kubectl").expect("kubeconfig written by the server");
    let file = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let two = file("two.yaml", manifest(2, "imagePullPolicy"));
    let three = file("three.yaml", manifest(3, "imagePullPolicy"));
    let typo = file("typo.yaml", manifest(3, "imagePullPolicyy"));

    // 1. Create, with kubectl's default --validate=strict, and roll out.
    assert!(ok(&kc, &["apply", "-f", &two]).contains("deployment.apps/web created"));
    assert!(ok(&kc, &["rollout", "status", "deployment/web", "--timeout=60s"]).contains("successfully rolled out"));
    // 2. The same file again: nothing to change.
    assert!(ok(&kc, &["apply", "-f", &two]).contains("deployment.apps/web unchanged"));
    // 3. A changed file: a three-way strategic merge patch.
    assert!(ok(&kc, &["apply", "-f", &three]).contains("deployment.apps/web configured"));
    assert!(ok(&kc, &["rollout", "status", "deployment/web", "--timeout=60s"]).contains("successfully rolled out"));
    let rv = ok(&kc, &["get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"]);

    // 4. A misspelt field is refused with its path, and nothing changes.
    let (success, _, err) = kubectl(&kc, &["apply", "-f", &typo]);
    assert!(!success, "a misspelt field was accepted under strict validation");
    assert!(err.contains(r#"strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy""#), "{err}");
    assert_eq!(ok(&kc, &["get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"]), rv);
    let (success, _, err) = kubectl(&kc, &["create", "-f", &typo]);
    assert!(!success && err.contains("imagePullPolicyy"), "{err}");

    // 5. Under --validate=warn it is warned about and, as upstream, not stored.
    let out = ok(&kc, &["apply", "--validate=warn", "-f", &typo]);
    assert!(out.contains(r#"Warning: unknown field "spec.template.spec.containers[0].imagePullPolicyy""#), "{out}");
    let stored = ok(&kc, &["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0]}"]);
    assert!(!stored.contains("imagePullPolicyy"), "the unknown field was stored: {stored}");
    // The clean file takes the typo out of last-applied once, then settles.
    assert!(ok(&kc, &["apply", "-f", &three]).contains("deployment.apps/web configured"));
    assert!(ok(&kc, &["apply", "-f", &three]).contains("deployment.apps/web unchanged"));

    // 6. A rollout by `set image`, its history, and undo back to the template
    //    before it. (The misspelt manifest above had no imagePullPolicy, so its
    //    apply took the field out and made a revision of its own, as upstream.)
    let revisions = |kc: &Path| -> Vec<u32> {
        let h = ok(kc, &["rollout", "history", "deployment/web"]);
        h.lines().skip_while(|l| !l.starts_with("REVISION")).skip(1).filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect()
    };
    let before = revisions(&kc);
    let last = *before.last().expect("a revision");
    assert!(ok(&kc, &["set", "image", "deployment/web", "web=podchain.local/sample:2"]).contains("image updated"));
    assert!(ok(&kc, &["rollout", "status", "deployment/web", "--timeout=60s"]).contains("successfully rolled out"));
    assert_eq!(revisions(&kc).last(), Some(&(last + 1)));
    assert!(ok(&kc, &["rollout", "undo", "deployment/web"]).contains("rolled back"));
    assert!(ok(&kc, &["rollout", "status", "deployment/web", "--timeout=60s"]).contains("successfully rolled out"));
    assert_eq!(ok(&kc, &["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]), "podchain.local/sample:1");
    // Undo takes the previous template's ReplicaSet forward to the next revision.
    let after = revisions(&kc);
    assert_eq!(after.last(), Some(&(last + 2)), "{after:?}");
    assert!(!after.contains(&last), "{after:?}");

    // 7. Scale through the scale subresource, and kubectl's Table.
    assert!(ok(&kc, &["scale", "deployment", "web", "--replicas=1"]).contains("deployment.apps/web scaled"));
    assert!(ok(&kc, &["rollout", "status", "deployment/web", "--timeout=60s"]).contains("successfully rolled out"));
    let table = ok(&kc, &["get", "deployment", "web"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], "{table}");
    assert!(table.lines().nth(1).is_some_and(|l| l.split_whitespace().take(4).eq(["web", "1/1", "1", "1"])), "{table}");

    // 7b. Rehearsals store nothing: server-side dry runs of apply, scale and
    //     delete, and diff, which dry-runs the apply and prints the change.
    let rv = ok(&kc, &["get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"]);
    let out = ok(&kc, &["apply", "--dry-run=server", "-f", &two]);
    assert!(out.contains("deployment.apps/web configured (server dry run)"), "{out}");
    let (same, diff, err) = kubectl(&kc, &["diff", "-f", &two]);
    assert!(!same && diff.contains("-  replicas: 1") && diff.contains("+  replicas: 2"), "{diff}{err}");
    assert!(ok(&kc, &["scale", "deployment", "web", "--replicas=4", "--dry-run=server"]).contains("deployment.apps/web scaled (server dry run)"));
    assert!(ok(&kc, &["delete", "deployment", "web", "--dry-run=server"]).contains(r#"deployment.apps "web" deleted (server dry run)"#));
    assert!(ok(&kc, &["delete", "pods", "--all", "--dry-run=server"]).contains("deleted (server dry run)"));
    assert_eq!(ok(&kc, &["get", "deployment", "web", "-o", "jsonpath={.metadata.resourceVersion}"]), rv, "a rehearsal changed the Deployment");
    assert_eq!(ok(&kc, &["get", "pods", "-o", "jsonpath={.items[*].metadata.deletionTimestamp}"]), "", "a rehearsal marked a pod for deletion");

    let wide = ok(&kc, &["get", "pods", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap_or_default().split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"], "{wide}");
    // drain: cordon, then evictions in protobuf through kubectl's typed
    // clientset; the replacement waits while the node is unschedulable.
    let before = ok(&kc, &["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
    let drained = ok(&kc, &["drain", "node-1", "--ignore-daemonsets", "--timeout=30s"]);
    assert!(drained.contains(&format!("pod/{} evicted", before.trim())) && drained.contains("node/node-1 drained"), "{drained}");
    wait_for("the evicted pod replaced and unschedulable", T, || async {
        let (pods, _) = c.list(Kind::Pod, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let pending: Vec<_> = pods.iter().filter_map(|o| o.as_pod()).filter(|p| p.metadata.name != before.trim() && p.spec.node_name.is_empty()).collect();
        if pending.len() == 1 && pods.len() == 1 { Ok(()) } else { Err(format!("{} pods, {} unbound", pods.len(), pending.len())) }
    })
    .await;
    ok(&kc, &["uncordon", "node-1"]);
    assert!(ok(&kc, &["rollout", "status", "deployment/web", "--timeout=60s"]).contains("successfully rolled out"));

    // 8. Delete waits until the Deployment is gone; the collector takes its pods.
    assert!(ok(&kc, &["delete", "-f", &three]).contains(r#"deployment.apps "web" deleted"#));
    assert!(!kubectl(&kc, &["get", "deployment", "web"]).0);
    wait_for("the Deployment's pods and ReplicaSets gone", T, || async {
        let (pods, _) = c.list(Kind::Pod, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let (rss, _) = c.list(Kind::ReplicaSet, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        if pods.is_empty() && rss.is_empty() { Ok(()) } else { Err(format!("{} pods, {} replicasets", pods.len(), rss.len())) }
    })
    .await;
    tests::assert_traces_valid(&dir, &["reconcile_deployment", "reconcile_replicaset", "schedule", "sync_pod", "collect_object"]);

    // 9. RBAC objects: the bootstrap policy is listed, and a Role and its
    // RoleBinding are applied and printed with upstream's columns.
    let roles = ok(&kc, &["get", "clusterroles"]);
    assert!(roles.contains("NAME") && roles.contains("CREATED AT") && roles.contains("cluster-admin") && roles.contains("system:kube-scheduler"), "{roles}");
    let rbac = file(
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: pod-reader, namespace: default}\nrules:\n- {apiGroups: [\"\"], resources: [pods], verbs: [get]}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: bob-reads, namespace: default}\nsubjects:\n- {kind: User, name: bob}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}\n"
            .into(),
    );
    let applied = ok(&kc, &["apply", "-f", &rbac]);
    assert!(applied.contains("role.rbac.authorization.k8s.io/pod-reader created") && applied.contains("rolebinding.rbac.authorization.k8s.io/bob-reads created"), "{applied}");
    let wide = ok(&kc, &["get", "rolebinding", "bob-reads", "-o", "wide"]);
    assert!(wide.contains("Role/pod-reader") && wide.contains("bob"), "{wide}");
}

/// kubectl edits the kubeconfig podchain wrote: another cluster, user and
/// context, then switches to it and back. podchain reads each result the
/// way kubectl would.
#[test]
fn podchain_reads_the_kubeconfig_kubectl_writes() {
    let dir = temp_dir("e2e-kubeconfig");
    let kc = dir.join("kubeconfig");
    client::kubeconfig::write(&kc, &client::kubeconfig::KubeConfig::single("http://127.0.0.1:6443", None)).unwrap();
    ok(&kc, &["config", "set-cluster", "other", "--server", "http://127.0.0.1:7443"]);
    ok(&kc, &["config", "set-credentials", "other-user", "--token", "t0k3n: not yaml"]);
    ok(&kc, &["config", "set-context", "other", "--cluster", "other", "--user", "other-user", "--namespace", "team-b"]);
    let r = client::kubeconfig::read(&kc).unwrap();
    assert_eq!((r.context.as_str(), r.server.as_str(), r.token.as_deref()), ("podchain", "http://127.0.0.1:6443", None));
    ok(&kc, &["config", "use-context", "other"]);
    let r = client::kubeconfig::read(&kc).unwrap();
    assert_eq!((r.context.as_str(), r.server.as_str(), r.token.as_deref(), r.namespace.as_str()), ("other", "http://127.0.0.1:7443", Some("t0k3n: not yaml"), "team-b"));
    // And kubectl reads back what podchain rewrites, unchanged.
    let parsed = client::kubeconfig::KubeConfig::parse(&std::fs::read_to_string(&kc).unwrap()).unwrap();
    client::kubeconfig::write(&kc, &parsed).unwrap();
    assert_eq!(ok(&kc, &["config", "current-context"]).trim(), "other");
    assert!(ok(&kc, &["config", "view", "-o", "jsonpath={.clusters[*].name}"]).contains("other"));
}
