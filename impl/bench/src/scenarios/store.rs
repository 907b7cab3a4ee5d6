//! Store writes: HTTP creates of a Lease through `podchain apiserver` on its
//! embedded store with 1, 10 and 100 writers; the same writers putting the
//! same bytes into Debian's etcd on the same disk with the same client (its
//! JSON gateway); the data disk's fdatasync floor; and the load generator's
//! ceiling against a trivial endpoint. Then the embedded store alone in
//! this process on the same disk: many writers (what group commit gives
//! without HTTP), and the store grown to 150,000 objects and rewritten
//! (its log compacted to a snapshot) while writers keep writing: the
//! longest any writer waited.

use super::ControlPlane;
use crate::load::{closed_loop, fdatasync_floor, trivial_endpoint, LoadResult};
use crate::procs::{free_port, wait_for, Proc, Spawn};
use crate::stats::dist;
use crate::{Options, Progress, ScenarioReport, Target};
use base64::Engine;
use client::{Client, Method};
use podcore::object::{Kind, Object};
use serde_json::json;
use std::time::Duration;

const WRITERS: [usize; 3] = [1, 10, 100];
/// The bound on how long the log rewrite may hold a writer, at 150,000 objects.
pub const REWRITE_STALL_TARGET_MS: f64 = 50.0;
/// The bytes of one write: a Lease as kubelets renew them.
fn lease(name: &str) -> Object {
    Object::from_value(
        Kind::Lease,
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": "default"},
               "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"}}),
    )
    .expect("a valid lease")
}

fn record(r: &mut ScenarioReport, name: &str, res: &LoadResult, target: Option<Target>) {
    r.figure(name, res.per_second(), "writes/s", target).with_dist(dist(&res.latencies_ms));
    if res.errors > 0 {
        r.note(format!("{name}: {} errors, the first: {}", res.errors, res.first_error.clone().unwrap_or_default()));
    }
}

/// Debian's etcd on loopback, data on the same disk; killed when dropped.
struct Etcd {
    _proc: Proc,
    client: Client,
    /// HOST:PORT of its client URL.
    endpoint: String,
}

async fn start_etcd(dir: &std::path::Path) -> Result<Etcd, String> {
    let (client_port, peer_port) = (free_port(), free_port());
    let (c, p) = (format!("http://127.0.0.1:{client_port}"), format!("http://127.0.0.1:{peer_port}"));
    let args: Vec<String> = [
        "--name", "bench", "--data-dir", &dir.join("etcd").display().to_string(), "--listen-client-urls", &c, "--advertise-client-urls", &c,
        "--listen-peer-urls", &p, "--initial-advertise-peer-urls", &p, "--initial-cluster", &format!("bench={p}"),
        // Above the apiserver's 3 MiB body limit, as the store issue asks of every etcd podchain uses.
        "--max-request-bytes", "4194304",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let proc = Proc::spawn(Spawn { program: "etcd".into(), name: "etcd".into(), args, log_dir: dir.to_path_buf(), env: vec![] })?;
    let client = Client::new(&c, None, "podchain-bench");
    wait_for("etcd to answer /health", Duration::from_secs(20), || {
        let client = client.clone();
        async move { client.request(Method::GET, "/health", None).await.map(|_| ()).map_err(|e| e.to_string()) }
    })
    .await
    .map_err(|e| format!("{e}\n{}", proc.log_tail()))?;
    Ok(Etcd { _proc: proc, client, endpoint: format!("127.0.0.1:{client_port}") })
}

/// Bytes of each object in the rewrite measurement: a small pod.
const OBJECT_BYTES: usize = 1024;
/// Writer threads of the in-process measurements.
const STORE_WRITERS: usize = 16;
/// Objects the rewrite is measured at (upstream's 150,000 pods).
const REWRITE_OBJECTS: usize = 150_000;

/// What the in-process measurement saw.
struct InProcess {
    writes: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
    stats: podstore::embedded::CommitStats,
}

/// `objects` creates, then updates of every object in turn until the log has
/// been rewritten once, by `STORE_WRITERS` threads against an `Embedded` in `dir`.
fn grow_and_rewrite(dir: &std::path::Path, objects: usize) -> Result<InProcess, String> {
    use podstore::Store;
    let (s, _) = podstore::Embedded::open(dir).map_err(|e| e.to_string())?;
    let s = std::sync::Arc::new(s);
    let started = std::time::Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handles: Vec<_> = (0..STORE_WRITERS)
        .map(|_| {
            let (s, next) = (s.clone(), next.clone());
            std::thread::spawn(move || -> Result<Vec<f64>, String> {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= objects && s.commit_stats().rewrites > 0 {
                        return Ok(lat);
                    }
                    if i >= 20 * objects {
                        return Err(format!("no log rewrite after {i} writes"));
                    }
                    let key = format!("/registry/pods/default/p{}", i % objects);
                    let value = vec![b'a' + (i % 26) as u8; OBJECT_BYTES];
                    let t = std::time::Instant::now();
                    if i < objects {
                        s.create(&key, value).map_err(|e| e.to_string())?;
                    } else {
                        // Any revision: an unconditional update through a fresh read.
                        loop {
                            let cur = s.get(&key).map_err(|e| e.to_string())?.ok_or("a created object vanished")?;
                            match s.update(&key, value.clone(), cur.mod_revision) {
                                Ok(_) => break,
                                Err(podstore::StoreError::Conflict { .. }) => continue,
                                Err(e) => return Err(e.to_string()),
                            }
                        }
                    }
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
            })
        })
        .collect();
    let mut latencies_ms = Vec::new();
    for h in handles {
        latencies_ms.extend(h.join().map_err(|_| "a writer thread panicked")??);
    }
    let seconds = started.elapsed().as_secs_f64();
    s.wait_for_rewrite();
    Ok(InProcess { writes: latencies_ms.len(), seconds, latencies_ms, stats: s.commit_stats() })
}

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("store", opts.quick);
    let mut progress = Progress::new("store");
    let secs = Duration::from_secs_f64(if opts.quick { 1.5 } else { 10.0 });
    crate::ensure_fd_limit(4096)?;
    let cp = ControlPlane::start(opts, "store", false, &[]).await?;
    progress.step("the data disk's fdatasync floor");
    let data = cp.dir.join("data");
    let (floor, floor_lat) = tokio::task::spawn_blocking(move || fdatasync_floor(&data, 256, secs)).await.map_err(|e| e.to_string())??;
    r.figure("fdatasync floor of the data disk (256-byte appends)", floor, "/s", None).with_dist(dist(&floor_lat));
    let mut embedded = Vec::new();
    for w in WRITERS {
        progress.step(&format!("podchain, {w} writers"));
        let c = cp.client.clone();
        let res = closed_loop(w, secs, move |writer, n| {
            let c = c.clone();
            async move { c.create(&lease(&format!("l-{w}-{writer}-{n}"))).await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await;
        record(&mut r, &format!("podchain embedded store, {w} writers (HTTP create of a Lease)"), &res, None);
        embedded.push(res.per_second());
    }
    let mut etcd_rates = Vec::new();
    let mut on_etcd = Vec::new();
    match start_etcd(&cp.dir).await {
        Err(e) => r.note(format!("etcd not measured: {e} (install Debian's etcd-server)")),
        Ok(etcd) => {
            for w in WRITERS {
                progress.step(&format!("etcd, {w} writers"));
                let c = etcd.client.clone();
                let res = closed_loop(w, secs, move |writer, n| {
                    let c = c.clone();
                    let name = format!("l-{w}-{writer}-{n}");
                    let b64 = base64::engine::general_purpose::STANDARD;
                    let body = json!({"key": b64.encode(format!("/registry/leases/default/{name}")), "value": b64.encode(lease(&name).to_json())});
                    async move { c.request(Method::POST, "/v3/kv/put", Some((body.to_string().into_bytes(), "application/json"))).await.map(|_| ()).map_err(|e| e.to_string()) }
                })
                .await;
                record(&mut r, &format!("etcd 3.4 (Debian), {w} writers (the same bytes, the same client, JSON gateway)"), &res, None);
                etcd_rates.push(res.per_second());
            }
            // podchain's apiserver with its objects in that etcd (`--store`).
            match ControlPlane::start(opts, "store-on-etcd", false, &["--store", &format!("etcd://{}", etcd.endpoint)]).await {
                Err(e) => r.note(format!("podchain on etcd not measured: {e}")),
                Ok(on) => {
                    for w in WRITERS {
                        progress.step(&format!("podchain on etcd, {w} writers"));
                        let c = on.client.clone();
                        let res = closed_loop(w, secs, move |writer, n| {
                            let c = c.clone();
                            async move { c.create(&lease(&format!("e-{w}-{writer}-{n}"))).await.map(|_| ()).map_err(|e| e.to_string()) }
                        })
                        .await;
                        record(&mut r, &format!("podchain apiserver on that etcd, {w} writers (HTTP create of a Lease)"), &res, None);
                        on_etcd.push(res.per_second());
                    }
                }
            }
        }
    }
    progress.step("the load generator's ceiling");
    let trivial = Client::new(&trivial_endpoint().await?, None, "podchain-bench");
    let ceiling = closed_loop(100, secs, move |writer, n| {
        let c = trivial.clone();
        async move { c.create(&lease(&format!("l-{writer}-{n}"))).await.map(|_| ()).map_err(|e| e.to_string()) }
    })
    .await;
    record(&mut r, "load generator ceiling, 100 writers against a trivial endpoint", &ceiling, None);
    // One writer's bound: its HTTP round trip (the same client, a trivial
    // endpoint) and one fdatasync, back to back, per write.
    let trivial1 = Client::new(&trivial_endpoint().await?, None, "podchain-bench");
    let rtt = closed_loop(1, secs, move |writer, n| {
        let c = trivial1.clone();
        async move { c.create(&lease(&format!("r-{writer}-{n}"))).await.map(|_| ()).map_err(|e| e.to_string()) }
    })
    .await;
    record(&mut r, "load generator ceiling, 1 writer against a trivial endpoint (the HTTP round trip)", &rtt, None);
    let one_writer_bound = 1.0 / (1.0 / rtt.per_second().max(1e-9) + 1.0 / floor.max(1e-9));
    r.figure("1 writer's bound: an HTTP round trip then an fdatasync, per write", one_writer_bound, "writes/s", None);
    progress.done();
    r.ratio("1 writer over the fdatasync floor", embedded[0], "podchain, 1 writer", floor, "fdatasync floor", Target::at_least(0.8, "issue 12"), Target::at_least(0.15, "regression bound"));
    r.ratio("1 writer over its bound (round trip + fdatasync)", embedded[0], "podchain, 1 writer", one_writer_bound, "round trip + fdatasync", None, None);
    if let Some(e100) = etcd_rates.get(2) {
        r.ratio("100 writers over etcd's 100 writers", embedded[2], "podchain, 100 writers", *e100, "etcd, 100 writers", Target::at_least(3.0, "issue 12"), Target::at_least(0.2, "regression bound"));
        r.ratio("1 writer over etcd's 1 writer", embedded[0], "podchain, 1 writer", etcd_rates[0], "etcd, 1 writer", None, None);
        if let Some(o100) = on_etcd.get(2) {
            r.ratio("podchain on etcd over etcd alone, 100 writers", *o100, "podchain on etcd, 100 writers", *e100, "etcd, 100 writers", None, Target::at_least(0.05, "regression bound"));
        }
    }
    r.ratio("load generator headroom over podchain's 100 writers", ceiling.per_second(), "trivial endpoint, 100 writers", embedded[2], "podchain, 100 writers", Target::at_least(2.0, "the generator must not be the bottleneck"), Target::at_least(1.5, "the generator must not be the bottleneck"));
    // The store alone, in this process, on the same disk.
    let objects = if opts.quick { REWRITE_OBJECTS / 10 } else { REWRITE_OBJECTS };
    progress.step(&format!("the embedded store alone: {objects} objects, then updates until its log is rewritten"));
    let dir = cp.dir.join("in-process");
    let m = tokio::task::spawn_blocking(move || grow_and_rewrite(&dir, objects)).await.map_err(|e| e.to_string())??;
    progress.done();
    let rate = m.writes as f64 / m.seconds.max(1e-9);
    let d = dist(&m.latencies_ms);
    r.figure(&format!("embedded store alone, {STORE_WRITERS} writer threads, {} writes of {OBJECT_BYTES} bytes", m.writes), rate, "writes/s", None).with_dist(d.clone());
    r.figure("writes per fdatasync (group commit)", m.stats.writes as f64 / m.stats.syncs.max(1) as f64, "writes", None);
    r.figure(&format!("the longest any write waited, {objects} objects, log rewritten {} time(s)", m.stats.rewrites), d.max, "ms", Target::at_most(REWRITE_STALL_TARGET_MS, "issue 14: a stated bound"));
    r.figure("the longest the rewrite held writers off (its snapshot and swap)", m.stats.longest_rewrite_hold_micros as f64 / 1e3, "ms", Target::at_most(REWRITE_STALL_TARGET_MS, "issue 14: a stated bound"));
    r.ratio("in-process writes per second over the fdatasync floor", rate, "embedded store alone", floor, "fdatasync floor", None, Target::at_least(1.0, "regression bound: group commit beats one fsync per write"));
    Ok(r)
}
