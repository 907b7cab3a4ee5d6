//! `podchain`: one binary for every component.

mod cli;

use clap::Parser;
use cli::{Cli, Command, ModelCommand, RuntimeKind, TraceCommand};
use std::sync::Arc;

fn main() {
    let cli = Cli::parse();
    let (what, result) = match cli.command {
        Command::Server(a) => ("server", run_server(a.store, Some((a.monitor, a.leader)))),
        Command::Apiserver(a) => ("apiserver", run_server(a.store, None)),
        Command::ControllerManager(a) => ("controller-manager", run_controller_manager(a)),
        Command::Scheduler(a) => ("scheduler", run_scheduler(a)),
        Command::Kubelet(a) => ("kubelet", run_kubelet(a)),
        Command::Model(m) => ("model", run_model(m)),
        Command::Trace(t) => ("trace", run_trace(t)),
        Command::Apply(a) => ("apply", run_apply(a)),
        Command::Get(a) => ("get", run_get(a)),
        Command::Bench(a) => ("bench", run_bench(a)),
        Command::Store(c) => ("store", run_store(c)),
    };
    if let Err(e) = result {
        eprintln!("podchain {what}: {e}");
        std::process::exit(1);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("starting the async runtime: {e}"))
}

/// The store `--store` names: etcd, or the embedded store in the data directory.
fn open_store(a: &cli::StoreArgs) -> Result<Arc<dyn podstore::Store>, String> {
    if let Some(url) = &a.store {
        let opts = etcdstore::Options::from_url(url).map_err(|e| format!("--store: {e}"))?;
        let store = etcdstore::Etcd::connect(opts).map_err(|e| format!("--store {url}: {e}"))?;
        eprintln!("podchain: the store is etcd at {url}, at revision {}", podstore::Store::revision(&store));
        return Ok(Arc::new(store));
    }
    let data_dir = &a.data_dir;
    let (store, report) = podstore::Embedded::open(&store_dir(data_dir)).map_err(|e| format!("opening the store in {}: {e}", data_dir.display()))?;
    if let Some(cut) = &report.cut {
        eprintln!("podchain: store recovered {} records; cut {} bytes at offset {} after record {}: {} (never acknowledged)", report.records, cut.bytes, cut.offset, cut.after_record, cut.reason);
    }
    Ok(Arc::new(store))
}

/// The embedded store's directory under a data directory.
fn store_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("store")
}

fn run_store(c: cli::StoreCommand) -> Result<(), String> {
    use cli::{SnapshotCommand, StoreCommand};
    use podstore::disk::{Disk, OsDisk};
    match c {
        StoreCommand::Check { dir } => {
            let store = store_dir(&dir);
            if !store.join(podstore::embedded::LOG_NAME).is_file() {
                return Err(format!("{}: no store here (expected {})", dir.display(), store.join(podstore::embedded::LOG_NAME).display()));
            }
            let disk = OsDisk::new(&store).map_err(|e| e.to_string())?;
            let r = podstore::Embedded::check_on(&disk).map_err(|e| e.to_string())?;
            println!(
                "{}: {} records, {} keys ({} bytes of keys and values) in {} bytes of log, at revision {}",
                disk.describe(podstore::embedded::LOG_NAME),
                r.open.records,
                r.keys,
                r.live_bytes,
                r.log_bytes,
                r.open.revision
            );
            match &r.open.cut {
                Some(cut) => println!("a torn final write (never acknowledged) would be cut on opening: {} bytes at offset {} after record {}: {}", cut.bytes, cut.offset, cut.after_record, cut.reason),
                None => println!("every record is intact"),
            }
            if r.unfinished_rewrite {
                println!("{} is left from a log rewrite that did not finish; the log above is the whole store", disk.describe(podstore::embedded::REWRITE_NAME));
            }
            Ok(())
        }
        StoreCommand::Snapshot(SnapshotCommand::Save { file, kubeconfig }) => {
            let client = client::Client::from_kubeconfig(&kubeconfig, "podchain-store-snapshot")?;
            let bytes = runtime()?.block_on(client.request_bytes(client::Method::GET, apiserver::http::SNAPSHOT_PATH, None)).map_err(|e| format!("{}: {}", client.base(), e.message))?;
            let info = podstore::snapshot::verify(&bytes).map_err(|e| format!("the snapshot {} sent is not whole: {e}", client.base()))?;
            write_durably(&file, &bytes)?;
            println!("saved {} keys at revision {} ({} bytes) to {}", info.keys, info.revision, info.bytes, file.display());
            Ok(())
        }
        StoreCommand::Snapshot(SnapshotCommand::Restore { file, dir, bump_revision }) => {
            let bytes = std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            let disk = OsDisk::new(&store_dir(&dir)).map_err(|e| format!("{}: {e}", dir.display()))?;
            let info = podstore::snapshot::restore(&bytes, &disk, bump_revision).map_err(|e| format!("{}: {e}", file.display()))?;
            println!("restored {} keys into {} at revision {}", info.keys, disk.describe(podstore::embedded::LOG_NAME), info.revision);
            Ok(())
        }
    }
}

/// Writes `bytes` to `path` whole or not at all: a file beside it, fsynced, renamed over it.
fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let part = path.with_extension("part");
    let fail = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let mut f = std::fs::File::create(&part).map_err(fail)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(fail)?;
    std::fs::rename(&part, path).map_err(fail)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)
}

fn run_server(a: cli::StoreArgs, controllers: Option<(cli::NodeMonitorArgs, cli::LeaderElectionArgs)>) -> Result<(), String> {
    let store = open_store(&a)?;
    let data_dir = a.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("creating the data directory {}: {e}", data_dir.display()))?;
    let cfg = apiserver::Config { listen: a.listen, default_toleration_seconds: a.default_toleration_seconds, serving: a.serving(), ..Default::default() };
    // Leader election only where other servers can share the store.
    let shared = a.store.is_some();
    let election = |l: &cli::LeaderElectionArgs, name: &str| if shared { l.config(name, controllers::leader::identity()) } else { None };
    let manager_cfg = controllers.map(|(m, l)| (m.manager_config(), election(&l, "kube-controller-manager"), election(&l, "kube-scheduler")));
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| format!("binding {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // Loading reads the whole store, which blocks (on etcd, on its client's runtime).
        let (window, tolerate) = (cfg.window_events, cfg.default_toleration_seconds);
        let registry = tokio::task::spawn_blocking(move || apiserver::Registry::open(store, window, tolerate)).await.map_err(|e| e.to_string())??;
        let r = registry.clone();
        tokio::task::spawn_blocking(move || r.bootstrap()).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        let server_url = format!("http://{addr}");
        let kubeconfig = data_dir.join("kubeconfig");
        client::kubeconfig::write(&kubeconfig, &client::kubeconfig::KubeConfig::single(&server_url, None))?;
        eprintln!("podchain: serving the Kubernetes API on {server_url}; kubeconfig: {}", kubeconfig.display());
        let serving = apiserver::serve_on(listener, registry, addr.to_string(), cfg.serving);
        let Some((manager_cfg, manager_election, scheduler_election)) = manager_cfg else {
            return serving.await;
        };
        // The control-plane components talk to the API over HTTP, as they
        // would from other processes, and share one set of informers
        // (listed and watched as the controller-manager), so each pod and
        // node is decoded and cached once in this process.
        let c = client::Client::new(&server_url, None, "podchain-controller-manager");
        let s = client::Client::new(&server_url, None, "podchain-scheduler");
        let (c2, s2) = (c.clone(), s.clone());
        let mut informers = client::informer::Factory::new(c.clone());
        let manager = controllers::manager::ControllerManager::new(c, &mut informers, manager_cfg);
        let scheduler = controllers::scheduler::SchedulerDaemon::new(s, &mut informers, Default::default());
        informers.start();
        tokio::select! {
            r = serving => r,
            r = elected(c2, manager_election, "controller-manager", move |_| manager.run()) => r.map_err(|e| format!("controller-manager: {e}")),
            r = elected(s2, scheduler_election, "scheduler", move |_| scheduler.run()) => r.map_err(|e| format!("scheduler: {e}")),
        }
    })
}

/// The kubeconfig's client, against `--server`'s apiservers when given.
fn component_client(kubeconfig: &std::path::Path, server: &Option<String>, user_agent: &str) -> Result<client::Client, String> {
    let c = client::Client::from_kubeconfig(kubeconfig, user_agent)?;
    Ok(match server {
        Some(s) => c.with_servers(s),
        None => c,
    })
}

fn run_controller_manager(a: cli::ControllerManagerArgs) -> Result<(), String> {
    let client = component_client(&a.kubeconfig, &a.server, "podchain-controller-manager")?;
    let cfg = a.monitor.manager_config();
    let work = move |c| controllers::manager::run(c, cfg);
    runtime()?.block_on(elected(client, a.leader.config("kube-controller-manager", controllers::leader::identity()), "controller-manager", work))
}

fn run_scheduler(a: cli::SchedulerArgs) -> Result<(), String> {
    let client = component_client(&a.kubeconfig, &a.server, "podchain-scheduler")?;
    let work = |c| controllers::scheduler::run(c, Default::default());
    runtime()?.block_on(elected(client, a.leader.config("kube-scheduler", controllers::leader::identity()), "scheduler", work))
}

/// Runs `work` at once, or, under leader election, only while leading.
async fn elected<F, Fut>(client: client::Client, election: Option<podcore::controller::leaderelection::Config>, component: &str, work: F) -> Result<(), String>
where
    F: FnOnce(client::Client) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    match election {
        None => work(client).await,
        Some(cfg) => {
            let c = client.clone();
            controllers::leader::run_elected(client, cfg, component, move || work(c)).await
        }
    }
}

fn run_kubelet(a: cli::KubeletArgs) -> Result<(), String> {
    let cfg = a.config(host_capacity)?;
    let node = a.node.clone();
    let client = component_client(&a.kubeconfig, &a.server, &format!("podchain-kubelet/{node}"))?;
    match a.runtime {
        RuntimeKind::Sim if a.count > 1 => {
            // Many simulated nodes in one process, like kwok: one task each.
            runtime()?.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for i in 1..=a.count {
                    let mut c = cfg.clone();
                    c.node_name = format!("{node}-{i}");
                    c.listen.set_port(cfg.listen.port().checked_add((i - 1) as u16).ok_or("--listen: not enough ports above it for --count")?);
                    let rt = Arc::new(kubelet::runtime::SimRuntime::new(&format!("10.{}.{}", 100 + i / 250, i % 250)));
                    let name = c.node_name.clone();
                    let client = client.clone();
                    tasks.spawn(async move { kubelet::run(client, rt, c).await.map_err(|e| format!("kubelet {name}: {e}")) });
                }
                // The first kubelet that stops, stops the process, saying which and why.
                while let Some(done) = tasks.join_next().await {
                    done.map_err(|e| e.to_string())??;
                }
                Ok(())
            })
        }
        RuntimeKind::Sim => {
            let rt = Arc::new(kubelet::runtime::SimRuntime::new(&a.pod_subnet));
            runtime()?.block_on(kubelet::run(client, rt, cfg))
        }
        RuntimeKind::Cri => runtime()?.block_on(async move {
            let rt = Arc::new(kubelet::cri::CriRuntime::connect(&a.container_runtime_endpoint, &node, &a.pod_log_dir).await?);
            kubelet::run(client, rt, cfg).await
        }),
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

fn run_trace(t: TraceCommand) -> Result<(), String> {
    let TraceCommand::Validate { dir } = t;
    let s = model::trace::validate_dir(&dir)?;
    println!("{} decisions in {} files replay in the model ({} torn final lines skipped)", s.records, s.files, s.torn);
    for (f, n) in &s.by_function {
        println!("  {f}: {n}");
    }
    for (c, n) in &s.by_component {
        println!("  {c}: {n}");
    }
    Ok(())
}

fn run_apply(a: cli::ApplyArgs) -> Result<(), String> {
    let file = a.filename.display().to_string();
    let text = std::fs::read_to_string(&a.filename).map_err(|e| format!("reading {file}: {e}"))?;
    let client = client::Client::from_kubeconfig(&a.kubeconfig, "podchain-apply")?;
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
            let mut obj = podcore::object::Object::from_value(info.kind, v.clone()).map_err(|e| format!("{file}: {}", e.message))?;
            if info.namespaced && obj.meta().namespace.is_empty() {
                obj.meta_mut().namespace = "default".into();
            }
            let m = obj.meta().clone();
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

fn run_get(a: cli::GetArgs) -> Result<(), String> {
    let what = a.kind.as_str();
    let info = podcore::object::RESOURCES
        .iter()
        .find(|r| r.plural == what || r.singular == what || r.short_names.contains(&what))
        .ok_or_else(|| format!("unknown kind {what:?}: expected one of {}", podcore::object::RESOURCES.iter().map(|r| r.plural).collect::<Vec<_>>().join(", ")))?;
    let client = client::Client::from_kubeconfig(&a.kubeconfig, "podchain-get")?;
    let ns = a.namespace.unwrap_or_default();
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

fn run_bench(a: cli::BenchArgs) -> Result<(), String> {
    let bin = std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
    // containerd scenarios need ci/containerd.sh: the checkout is the current
    // directory unless PODCHAIN_REPO says where it is.
    let repo = std::env::var_os("PODCHAIN_REPO").map(std::path::PathBuf::from).unwrap_or_else(|| std::path::PathBuf::from("."));
    let opts = bench::Options { quick: a.quick, out_dir: a.out.clone(), bin, repo };
    if !a.scenarios.is_empty() {
        bench::run(&a.scenarios, &opts)?;
    }
    if a.report {
        let page = bench::report::write_html(&a.out)?;
        println!("report: {}", page.display());
    }
    Ok(())
}

fn run_model(m: ModelCommand) -> Result<(), String> {
    match m {
        ModelCommand::Check(a) => {
            let cfg = a.config()?;
            println!("checking {cfg:?}");
            let stats = model::check::run_check(cfg, a.threads, a.max_states);
            if let Some(path) = &a.stats_json {
                let mut v = serde_json::to_value(&stats).map_err(|e| e.to_string())?;
                // The peak resident set of this process: what the check cost in memory.
                v["peak_rss_bytes"] = serde_json::json!(bench::procs::peak_rss_of_self());
                std::fs::write(path, v.to_string()).map_err(|e| format!("writing {}: {e}", path.display()))?;
            }
            if stats.ok {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        ModelCommand::Explore { model, listen } => {
            let cfg = model.config()?;
            eprintln!("serving the Explorer on http://{listen}");
            model::check::explore(cfg, &listen)
        }
    }
}
