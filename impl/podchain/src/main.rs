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

Run `podchain <command> --help` for its flags.
";

const SERVER_HELP: &str = "podchain server: the whole control plane in one process.

Flags:
  --data-dir DIR                     where the embedded store keeps its log (default: ./podchain-data)
  --listen ADDR                      address to serve the API on (default: 127.0.0.1:6443)
  --node-monitor-grace-period-ms N   a node whose lease is older than this is NotReady (default: 40000)
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
    let allowed: &[&str] = if with_controllers { &["data-dir", "listen", "node-monitor-grace-period-ms", "default-toleration-seconds"] } else { &["data-dir", "listen", "default-toleration-seconds"] };
    let a = Args::parse(argv, allowed, help)?;
    let data_dir = PathBuf::from(a.str("data-dir", "podchain-data"));
    let listen: std::net::SocketAddr = a.str("listen", "127.0.0.1:6443").parse().map_err(|e| format!("--listen: {e}"))?;
    let (store, report) = podstore::Embedded::open(&data_dir.join("store")).map_err(|e| format!("opening the store in {}: {e}", data_dir.display()))?;
    if let Some(why) = &report.discarded_reason {
        eprintln!("podchain: store recovered {} records; discarded {} bytes at the end of the log ({why})", report.records, report.discarded_bytes);
    }
    let cfg = apiserver::Config { listen, default_toleration_seconds: a.num("default-toleration-seconds", 300)?, ..Default::default() };
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
        client::kubeconfig::write(&kubeconfig, &server_url, None)?;
        eprintln!("podchain: serving the Kubernetes API on {server_url}; kubeconfig: {}", kubeconfig.display());
        let _ = with_controllers;
        apiserver::serve_on(listener, registry, addr.to_string(), cfg.bookmark_interval).await
    })
}
