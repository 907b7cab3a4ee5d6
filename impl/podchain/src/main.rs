//! `podchain`: one binary for every component.

mod args;

use args::Args;
use std::path::PathBuf;
use std::sync::Arc;

const USAGE: &str = "podchain: the chain of events that runs a pod in Kubernetes.

Usage: podchain <command> [flags]

Commands:
  server              apiserver + controller-manager + scheduler in one process, embedded store
  apiserver           the API server alone
  controller-manager  deployment, replicaset, garbage-collector and node-lifecycle controllers
  scheduler           the scheduler
  kubelet             a node agent (simulated runtime or containerd over CRI)
  model               the model checker: `model check`, `model explore`
  trace               `trace validate DIR`: replay daemons' decision traces against the model
  apply               create or update objects from a YAML/JSON file (for machines without kubectl)
  get                 list objects of one kind

Run `podchain <command> --help` for its flags.
";

const SERVER_HELP: &str = "podchain server: the whole control plane in one process.

Flags:
  --data-dir DIR                     where the embedded store keeps its log (default: ./podchain-data)
  --listen ADDR                      address to serve the API on (default: 127.0.0.1:6443)
  --node-monitor-grace-period-ms N   a node whose lease is older than this is NotReady (default: 40000)
  --node-monitor-period-ms N         how often node health is checked (default: 5000)
  --default-toleration-seconds N     tolerationSeconds added to pods for not-ready/unreachable nodes (default: 300)

Writes an admin kubeconfig to DIR/kubeconfig.
";

const APISERVER_HELP: &str = "podchain apiserver: the API server alone.

Flags:
  --data-dir DIR                     where the embedded store keeps its log (default: ./podchain-data)
  --listen ADDR                      address to serve the API on (default: 127.0.0.1:6443)
  --default-toleration-seconds N     tolerationSeconds added to pods for not-ready/unreachable nodes (default: 300)

Writes an admin kubeconfig to DIR/kubeconfig.
";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = argv.first() else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    let rest = &argv[1..];
    let result = match cmd.as_str() {
        "server" => run_server(rest, true),
        "apiserver" => run_server(rest, false),
        "controller-manager" => run_controller_manager(rest),
        "scheduler" => run_scheduler(rest),
        "kubelet" => run_kubelet(rest),
        "apply" => run_apply(rest),
        "model" => run_model(rest),
        "trace" => run_trace(rest),
        "get" => run_get(rest),
        "--help" | "-h" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("podchain {cmd}: {e}");
        std::process::exit(1);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("starting the async runtime: {e}"))
}

fn run_server(argv: &[String], with_controllers: bool) -> Result<(), String> {
    let help = if with_controllers { SERVER_HELP } else { APISERVER_HELP };
    let allowed: &[&str] = if with_controllers { &["data-dir", "listen", "node-monitor-grace-period-ms", "node-monitor-period-ms", "default-toleration-seconds"] } else { &["data-dir", "listen", "default-toleration-seconds"] };
    let a = Args::parse(argv, allowed, help)?;
    let data_dir = PathBuf::from(a.str("data-dir", "podchain-data"));
    let listen: std::net::SocketAddr = a.str("listen", "127.0.0.1:6443").parse().map_err(|e| format!("--listen: {e}"))?;
    let (store, report) = podstore::Embedded::open(&data_dir.join("store")).map_err(|e| format!("opening the store in {}: {e}", data_dir.display()))?;
    if let Some(why) = &report.discarded_reason {
        eprintln!("podchain: store recovered {} records; discarded {} bytes at the end of the log ({why})", report.records, report.discarded_bytes);
    }
    let cfg = apiserver::Config { listen, default_toleration_seconds: a.num("default-toleration-seconds", 300)?, ..Default::default() };
    let manager_cfg = manager_config(&a)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| format!("binding {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let store: Arc<dyn podstore::Store> = Arc::new(store);
        let registry = apiserver::Registry::open(store, cfg.window_events, cfg.default_toleration_seconds)?;
        let r = registry.clone();
        tokio::task::spawn_blocking(move || r.bootstrap()).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        let server_url = format!("http://{addr}");
        let kubeconfig = data_dir.join("kubeconfig");
        client::kubeconfig::write(&kubeconfig, &client::kubeconfig::KubeConfig::single(&server_url, None))?;
        eprintln!("podchain: serving the Kubernetes API on {server_url}; kubeconfig: {}", kubeconfig.display());
        let serving = apiserver::serve_on(listener, registry, addr.to_string(), cfg.bookmark_interval);
        if !with_controllers {
            return serving.await;
        }
        // The control-plane components talk to the API over HTTP, as they would from other processes.
        let c = client::Client::new(&server_url, None, "podchain-controller-manager");
        let s = client::Client::new(&server_url, None, "podchain-scheduler");
        tokio::select! {
            r = serving => r,
            r = controllers::manager::run(c, manager_cfg) => r.map_err(|e| format!("controller-manager: {e}")),
            r = controllers::scheduler::run(s, Default::default()) => r.map_err(|e| format!("scheduler: {e}")),
        }
    })
}

fn manager_config(a: &Args) -> Result<controllers::manager::ManagerConfig, String> {
    let mut cfg = controllers::manager::ManagerConfig::default();
    cfg.node_lifecycle.grace_period_ms = a.num("node-monitor-grace-period-ms", cfg.node_lifecycle.grace_period_ms)?;
    cfg.node_monitor_period = std::time::Duration::from_millis(a.num("node-monitor-period-ms", cfg.node_monitor_period.as_millis() as u64)?);
    Ok(cfg)
}

const CONTROLLER_MANAGER_HELP: &str = "podchain controller-manager: the deployment, replicaset, garbage-collector and node-lifecycle controllers.

Flags:
  --kubeconfig FILE                  how to reach the apiserver (required)
  --node-monitor-grace-period-ms N   a node whose lease is older than this is NotReady (default: 40000)
  --node-monitor-period-ms N         how often node health is checked (default: 5000)
";

fn run_controller_manager(argv: &[String]) -> Result<(), String> {
    let a = Args::parse(argv, &["kubeconfig", "node-monitor-grace-period-ms", "node-monitor-period-ms"], CONTROLLER_MANAGER_HELP)?;
    let kc = a.opt("kubeconfig").ok_or_else(|| format!("--kubeconfig is required\n\n{CONTROLLER_MANAGER_HELP}"))?;
    let client = client::Client::from_kubeconfig(std::path::Path::new(&kc), "podchain-controller-manager")?;
    let cfg = manager_config(&a)?;
    runtime()?.block_on(controllers::manager::run(client, cfg))
}

const SCHEDULER_HELP: &str = "podchain scheduler: binds unscheduled pods to nodes.

Flags:
  --kubeconfig FILE   how to reach the apiserver (required)
";

fn run_scheduler(argv: &[String]) -> Result<(), String> {
    let a = Args::parse(argv, &["kubeconfig"], SCHEDULER_HELP)?;
    let kc = a.opt("kubeconfig").ok_or_else(|| format!("--kubeconfig is required\n\n{SCHEDULER_HELP}"))?;
    let client = client::Client::from_kubeconfig(std::path::Path::new(&kc), "podchain-scheduler")?;
    runtime()?.block_on(controllers::scheduler::run(client, Default::default()))
}

const KUBELET_HELP: &str = "podchain kubelet: a node agent.

Flags:
  --node NAME                      the node's name (required)
  --kubeconfig FILE                how to reach the apiserver (required)
  --runtime sim|cri                simulated containers, or containerd over CRI (default: sim)
  --listen ADDR                    the kubelet's own HTTP endpoint (default: 127.0.0.1:10250)
  --container-runtime-endpoint E   cri only: the CRI socket (default: unix:///run/containerd/containerd.sock)
  --pod-log-dir DIR                cri only: where container logs go (default: /var/log/pods)
  --pod-subnet A.B.C               first three octets of simulated pod IPs (default: 10.88.0)
  --cpu Q --memory Q --max-pods N  the node's capacity (default: sim 4, 8Gi; cri: the host's; 110 pods)
  --lease-renew-interval-ms N      how often the node lease is renewed (default: 10000)
  --node-status-interval-ms N      how often node status is posted (default: 60000)
  --sync-interval-ms N             how often the runtime is relisted (default: 1000)
  --count N                        simulated runtime only: run N kubelets in this process, nodes
                                   NAME-1..NAME-N, endpoints on consecutive ports (default: 1)
";

fn run_kubelet(argv: &[String]) -> Result<(), String> {
    let a = Args::parse(
        argv,
        &["node", "kubeconfig", "runtime", "container-runtime-endpoint", "pod-log-dir", "listen", "pod-subnet", "cpu", "memory", "max-pods", "lease-renew-interval-ms", "node-status-interval-ms", "sync-interval-ms", "count"],
        KUBELET_HELP,
    )?;
    let node = a.opt("node").ok_or_else(|| format!("--node is required\n\n{KUBELET_HELP}"))?;
    podcore::names::dns1123_subdomain(&node).map_err(|e| format!("--node {node:?}: {e}"))?;
    let kc = a.opt("kubeconfig").ok_or_else(|| format!("--kubeconfig is required\n\n{KUBELET_HELP}"))?;
    let client = client::Client::from_kubeconfig(std::path::Path::new(&kc), &format!("podchain-kubelet/{node}"))?;
    let mut cfg = kubelet::KubeletConfig::new(&node);
    cfg.listen = a.str("listen", "127.0.0.1:10250").parse().map_err(|e| format!("--listen: {e}"))?;
    let runtime_kind = a.str("runtime", "sim");
    if runtime_kind == "cri" {
        let (cpu, memory) = host_capacity();
        cfg.cpu = cpu;
        cfg.memory = memory;
    }
    cfg.cpu = a.str("cpu", &cfg.cpu);
    cfg.memory = a.str("memory", &cfg.memory);
    for (flag, q) in [("cpu", &cfg.cpu), ("memory", &cfg.memory)] {
        podcore::quantity::parse_nanos(q).map_err(|e| format!("--{flag}: {e}"))?;
    }
    cfg.max_pods = a.num("max-pods", cfg.max_pods)?;
    cfg.lease_renew_interval = std::time::Duration::from_millis(a.num("lease-renew-interval-ms", 10_000u64)?);
    cfg.node_status_interval = std::time::Duration::from_millis(a.num("node-status-interval-ms", 60_000u64)?);
    cfg.sync_interval = std::time::Duration::from_millis(a.num("sync-interval-ms", 1_000u64)?);
    let count: u32 = a.num("count", 1u32)?;
    match runtime_kind.as_str() {
        "cri" if count > 1 => Err("--count: only the simulated runtime runs several nodes in one process".into()),
        "sim" if count > 1 => {
            // Many simulated nodes in one process, like kwok: one task each.
            runtime()?.block_on(async move {
                let mut tasks = Vec::new();
                for i in 1..=count {
                    let mut c = cfg.clone();
                    c.node_name = format!("{node}-{i}");
                    c.listen.set_port(cfg.listen.port().checked_add((i - 1) as u16).ok_or("--listen: not enough ports above it for --count")?);
                    let rt = std::sync::Arc::new(kubelet::runtime::SimRuntime::new(&format!("10.{}.{}", 100 + i / 250, i % 250)));
                    tasks.push(tokio::spawn(kubelet::run(client.clone(), rt, c)));
                }
                for t in tasks {
                    t.await.map_err(|e| e.to_string())??;
                }
                Ok(())
            })
        }
        "sim" => {
            let rt = std::sync::Arc::new(kubelet::runtime::SimRuntime::new(&a.str("pod-subnet", "10.88.0")));
            runtime()?.block_on(kubelet::run(client, rt, cfg))
        }
        "cri" => {
            let endpoint = a.str("container-runtime-endpoint", cri::DEFAULT_ENDPOINT);
            let log_dir = a.str("pod-log-dir", kubelet::cri::DEFAULT_POD_LOG_DIR);
            runtime()?.block_on(async move {
                let rt = std::sync::Arc::new(kubelet::cri::CriRuntime::connect(&endpoint, &node, &log_dir).await?);
                kubelet::run(client, rt, cfg).await
            })
        }
        other => Err(format!("--runtime: expected sim or cri, got {other:?}")),
    }
}

/// The host's cpu count and memory, as the node's capacity.
fn host_capacity() -> (String, String) {
    let cpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string();
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0);
    (cpu, format!("{mem_kib}Ki"))
}

const TRACE_HELP: &str = "podchain trace validate DIR: replay decision traces against the model.

Every podchain component started with PODCHAIN_TRACE_DIR=DIR writes one JSON line per
decision (what it observed, what it decided) to DIR/<component>-<pid>.jsonl. This
replays each decision with the same core function and checks that every component's
view only moves forward; it reports the first step the model cannot take.
";

fn run_trace(argv: &[String]) -> Result<(), String> {
    match argv {
        [sub, dir] if sub == "validate" => {
            let s = model::trace::validate_dir(std::path::Path::new(dir))?;
            println!("{} decisions in {} files replay in the model ({} torn final lines skipped)", s.records, s.files, s.torn);
            for (f, n) in &s.by_function {
                println!("  {f}: {n}");
            }
            for (c, n) in &s.by_component {
                println!("  {c}: {n}");
            }
            Ok(())
        }
        [h] if h == "--help" || h == "-h" => {
            print!("{TRACE_HELP}");
            Ok(())
        }
        _ => Err(format!("expected `trace validate DIR`\n\n{TRACE_HELP}")),
    }
}

const APPLY_HELP: &str = "podchain apply: create or update the objects in a YAML (multi-document) or JSON file.

Flags:
  -f, --filename FILE   the manifest (required)
  --kubeconfig FILE     how to reach the apiserver (default: ./podchain-data/kubeconfig)

Objects that exist are updated with a JSON merge patch of the manifest.
";

fn run_apply(argv: &[String]) -> Result<(), String> {
    let argv: Vec<String> = argv.iter().map(|a| if a == "-f" { "--filename".to_string() } else { a.clone() }).collect();
    let a = Args::parse(&argv, &["filename", "kubeconfig"], APPLY_HELP)?;
    let file = a.opt("filename").ok_or_else(|| format!("-f is required\n\n{APPLY_HELP}"))?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("reading {file}: {e}"))?;
    let kc = a.str("kubeconfig", "podchain-data/kubeconfig");
    let client = client::Client::from_kubeconfig(std::path::Path::new(&kc), "podchain-apply")?;
    let docs = apiserver::decode::decode_yaml_documents(&text).map_err(|e| format!("{file}: {e}"))?;
    runtime()?.block_on(async move {
        for v in docs {
            let api_version = v["apiVersion"].as_str().unwrap_or("");
            let kind_name = v["kind"].as_str().unwrap_or("");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let info = podcore::object::RESOURCES
                .iter()
                .find(|r| r.group == group && r.version == version && r.kind_name == kind_name)
                .ok_or_else(|| format!("{file}: no resource of kind {kind_name:?} in {api_version:?}"))?;
            let obj = podcore::object::Object::from_value(info.kind, v.clone()).map_err(|e| format!("{file}: {}", e.message))?;
            let mut m = obj.meta().clone();
            if info.namespaced && m.namespace.is_empty() {
                m.namespace = "default".into();
            }
            let mut obj = obj;
            *obj.meta_mut() = m.clone();
            match client.create(&obj).await {
                Ok(_) => println!("{}/{} created", info.singular, m.name),
                Err(e) if e.code == 409 => {
                    client.patch(info.kind, &m.namespace, &m.name, "application/merge-patch+json", &v).await.map_err(|e| e.to_string())?;
                    println!("{}/{} configured", info.singular, m.name);
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    })
}

const GET_HELP: &str = "podchain get KIND: list objects (pods, deployments, replicasets, nodes, namespaces, events, leases).

Flags:
  -n, --namespace NS   only this namespace (default: all)
  --kubeconfig FILE    how to reach the apiserver (default: ./podchain-data/kubeconfig)
";

fn run_get(argv: &[String]) -> Result<(), String> {
    let Some(what) = argv.first().filter(|a| !a.starts_with('-')) else {
        print!("{GET_HELP}");
        return Ok(());
    };
    let rest: Vec<String> = argv[1..].iter().map(|a| if a == "-n" { "--namespace".to_string() } else { a.clone() }).collect();
    let a = Args::parse(&rest, &["namespace", "kubeconfig"], GET_HELP)?;
    let info = podcore::object::RESOURCES
        .iter()
        .find(|r| r.plural == what || r.singular == what || r.short_names.contains(&what.as_str()))
        .ok_or_else(|| format!("unknown kind {what:?}\n\n{GET_HELP}"))?;
    let kc = a.str("kubeconfig", "podchain-data/kubeconfig");
    let client = client::Client::from_kubeconfig(std::path::Path::new(&kc), "podchain-get")?;
    let ns = a.str("namespace", "");
    runtime()?.block_on(async move {
        let (items, _) = client.list(info.kind, &ns, &Default::default()).await.map_err(|e| e.to_string())?;
        let now = client::clock::wall_now();
        let cols = apiserver::table::columns(info.kind);
        let mut rows: Vec<Vec<String>> = vec![cols.iter().filter(|c| c["priority"] == 0).map(|c| c["name"].as_str().unwrap_or("").to_uppercase()).collect()];
        for o in &items {
            let cells = apiserver::table::cells(o, now);
            rows.push(cells.iter().zip(&cols).filter(|(_, c)| c["priority"] == 0).map(|(v, _)| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect());
        }
        let widths: Vec<usize> = (0..rows[0].len()).map(|i| rows.iter().map(|r| r.get(i).map_or(0, |c| c.len())).max().unwrap_or(0)).collect();
        for r in rows {
            let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i] + 3)).collect();
            println!("{}", line.join("").trim_end());
        }
        Ok(())
    })
}

const MODEL_HELP: &str = "podchain model check|explore: the stateright model over the core's functions.

Flags:
  --nodes N              nodes, each with a kubelet (default: 1)
  --replicas R           the Deployment's replicas (default: 1)
  --consistency C        linearizable | stale (default: stale: each component reads its own cache)
  --crashes N            controller crash-restarts allowed (default: 0)
  --node-failures N      kubelets that may die (default: 0)
  --exits N              containers that may exit with code 1 (default: 0)
  --rollout true|false   the user changes the image once the Deployment is available (default: false)
  --delete true|false    the user deletes the Deployment once it is available; the garbage
                         collector joins the components (default: false)
  --scale-to R           the user scales the Deployment to R (default: none)
  --ticks N              times the clock may jump to the next deadline (a back-off, a grace
                         period) while the cluster is idle short of its goal (default: 0)
  --pods-per-node N      room on each node: pods ask for 1/N of a node's cpu (default: 2)
  --safeguards-off LIST  comma-separated: expectations, accounting, node-name, rv-precondition (default: none)
  --symmetry S           off | nodes: nodes are interchangeable: the scheduler's ties are explored
                         in every order of nodes and states that differ only in which node is
                         called what are one state (up to 4 nodes; default: off, ties in name
                         order as the daemon breaks them)
  --threads N            checker threads (default: 2)
  --max-states N         stop after generating this many states, duplicates included (stateright's
                         count); a check that reaches it is incomplete and exits 1 (default: 2000000)
  --listen ADDR          explore: where to serve the Explorer (default: 127.0.0.1:3000)

Exit status 1 when a safety property is violated or the check is incomplete.
";

fn run_model(argv: &[String]) -> Result<(), String> {
    let Some(sub) = argv.first().filter(|s| !s.starts_with('-')) else {
        print!("{MODEL_HELP}");
        return Ok(());
    };
    let a = Args::parse(
        &argv[1..],
        &["nodes", "replicas", "consistency", "crashes", "node-failures", "exits", "rollout", "delete", "scale-to", "ticks", "pods-per-node", "safeguards-off", "symmetry", "threads", "max-states", "listen"],
        MODEL_HELP,
    )?;
    use model::check::{Consistency, ModelConfig};
    let mut cfg = ModelConfig { nodes: a.num("nodes", 1u8)?, replicas: a.num("replicas", 1i32)?, ..Default::default() };
    cfg.consistency = match a.str("consistency", "stale").as_str() {
        "linearizable" => Consistency::Linearizable,
        "stale" => Consistency::StaleMonotonic,
        other => return Err(format!("--consistency: expected linearizable or stale, got {other:?}")),
    };
    cfg.crashes = a.num("crashes", 0u8)?;
    cfg.node_failures = a.num("node-failures", 0u8)?;
    cfg.container_exits = a.num("exits", 0u8)?;
    cfg.rollout = a.str("rollout", "false") == "true";
    cfg.delete = a.str("delete", "false") == "true";
    cfg.scale_to = a.opt("scale-to").map(|s| s.parse().map_err(|_| format!("--scale-to: expected a number, got {s:?}"))).transpose()?;
    cfg.ticks = a.num("ticks", 0u8)?;
    let per_node = a.num("pods-per-node", 2i64)?;
    if !(1..=cfg.node_cpu_m).contains(&per_node) {
        return Err(format!("--pods-per-node: expected 1 to {}, got {per_node}", cfg.node_cpu_m));
    }
    cfg.pod_cpu_m = cfg.node_cpu_m / per_node;
    for s in a.str("safeguards-off", "").split(',').filter(|s| !s.is_empty()) {
        match s {
            "expectations" => cfg.rs.use_expectations = false,
            "accounting" => cfg.scheduler.account_bound_pods = false,
            "node-name" => cfg.kubelet.check_node_name = false,
            "rv-precondition" => cfg.check_resource_version = false,
            other => return Err(format!("--safeguards-off: unknown safeguard {other:?} (expectations, accounting, node-name, rv-precondition)")),
        }
    }
    cfg.symmetry = match a.str("symmetry", "off").as_str() {
        "off" => model::check::Symmetry::Off,
        "nodes" => model::check::Symmetry::Nodes,
        other => return Err(format!("--symmetry: expected off or nodes, got {other:?}")),
    };
    if cfg.symmetry != model::check::Symmetry::Off && cfg.nodes > model::symmetry::MAX_SYMMETRIC_NODES {
        return Err(format!("--symmetry nodes: at most {} nodes (the scheduler's pass is explored in every order of nodes), got {}", model::symmetry::MAX_SYMMETRIC_NODES, cfg.nodes));
    }
    match sub.as_str() {
        "check" => {
            println!("checking {cfg:?}");
            if model::check::run_check(cfg, a.num("threads", 2usize)?, a.num("max-states", 2_000_000usize)?) {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        "explore" => {
            let addr = a.str("listen", "127.0.0.1:3000");
            eprintln!("serving the Explorer on http://{addr}");
            model::check::explore(cfg, &addr)
        }
        other => Err(format!("unknown model command {other:?}\n\n{MODEL_HELP}")),
    }
}
