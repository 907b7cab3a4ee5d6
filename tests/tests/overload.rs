//! Overload, end to end: a real `podchain apiserver` with a small mutating
//! limit, flooded by many more writers than it admits. Each write is
//! answered 201 or 429 with `Retry-After`, the store holds exactly the
//! 201s, the server's memory stays bounded although every writer sends a
//! large body slowly, and `client::Client` (what every podchain component
//! uses) waits the 429s out so that all of its writes land.

use client::{Client, Method};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tests::{free_port, temp_dir, wait_for, wait_healthy, Proc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(60);
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
/// The server's mutating limit in this test.
const LIMIT: usize = 4;
/// Writers at once, each with a body of `PADDING` bytes and a little.
const WRITERS: usize = 64;
const PADDING: usize = 2 << 20;

/// A Lease's JSON padded with spaces to `PADDING` bytes; its last byte,
/// the closing brace, is what a held writer has not sent yet.
fn padded_lease(name: &str) -> Vec<u8> {
    let mut b = format!(r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{{"name":"{name}"}}"#).into_bytes();
    b.resize(PADDING, b' ');
    b.push(b'}');
    b
}

fn metric(text: &str, line: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(line)).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {line} in /metrics"))
}

/// The server's peak resident set (VmHWM), bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()).unwrap() * 1024
}

async fn lease_names(c: &Client) -> BTreeSet<String> {
    let v: Value = c.request(Method::GET, LEASES, None).await.expect("list leases");
    v["items"].as_array().unwrap().iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_writers_gets_429s_with_retry_after_bounded_memory_and_no_lost_write() {
    let dir = temp_dir("overload");
    let api = format!("127.0.0.1:{}", free_port());
    let limit = LIMIT.to_string();
    let data = dir.join("data");
    let args: Vec<String> = ["apiserver", "--data-dir", data.to_str().unwrap(), "--listen", &api, "--max-mutating-requests-inflight", &limit].map(String::from).to_vec();
    let server = Proc::start("apiserver", &args, &dir);
    let url = format!("http://{api}");
    wait_healthy(&url, T).await;
    let c = Client::new(&url, None, "overload-test");
    let pid = server.pid().expect("the server runs");
    let before = peak_rss(pid);

    // WRITERS writers each announce a 2 MiB body and send all of it but its
    // last byte: LIMIT are admitted and read, the rest refused at their headers.
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        let addr = api.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        writers.push((
            i,
            tx,
            tokio::spawn(async move {
                let body = padded_lease(&format!("slow-{i:02}"));
                let s = tokio::net::TcpStream::connect(&addr).await.unwrap();
                let (mut r, mut w) = s.into_split();
                let head = format!("POST {LEASES} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
                let sending = tokio::spawn(async move {
                    // A refused writer's connection may close under it: its write fails, which is fine.
                    if w.write_all(head.as_bytes()).await.is_err() || w.write_all(&body[..body.len() - 1]).await.is_err() {
                        return;
                    }
                    // Held until the test lets it finish.
                    let _ = rx.await;
                    let _ = w.write_all(&body[body.len() - 1..]).await;
                    let _ = w.flush().await;
                    std::future::pending::<()>().await
                });
                let mut answer = Vec::new();
                let _ = r.read_to_end(&mut answer).await;
                sending.abort();
                String::from_utf8_lossy(&answer).to_string()
            }),
        ));
    }
    // LIMIT held, every other refused: the server says so.
    let held_and_refused = |text: &str| (metric(text, "apiserver_current_inflight_requests{request_kind=\"mutating\"}"), metric(text, "apiserver_dropped_requests_total{request_kind=\"mutating\"}"));
    wait_for("LIMIT writers held and the rest refused", T, || {
        let c = c.clone();
        async move {
            let text = String::from_utf8_lossy(&c.request_bytes(Method::GET, "/metrics", None).await.map_err(|e| e.to_string())?).to_string();
            let seen = held_and_refused(&text);
            if seen == (LIMIT as u64, (WRITERS - LIMIT) as u64) {
                Ok(())
            } else {
                Err(format!("(held, refused) = {seen:?}"))
            }
        }
    })
    .await;
    // Memory: the admitted bodies, not the offered ones.
    let grown = peak_rss(pid).saturating_sub(before);
    let offered = (WRITERS * PADDING) as u64;
    eprintln!("peak RSS grew {} MiB while {} MiB of bodies were offered", grown >> 20, offered >> 20);
    assert!(grown < offered / 2, "the server's peak RSS grew {grown} bytes for {offered} offered: refused bodies were read");

    // Let the held writers finish.
    let mut answers = Vec::new();
    for (i, tx, task) in writers {
        let _ = tx.send(());
        answers.push((i, task.await.unwrap()));
    }
    let mut created = BTreeSet::new();
    for (i, a) in &answers {
        let status = a.lines().next().unwrap_or("");
        match status {
            "HTTP/1.1 201 Created" => {
                created.insert(format!("slow-{i:02}"));
            }
            "HTTP/1.1 429 Too Many Requests" => {
                assert!(a.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n"), "{a}");
                assert!(a.contains(r#""reason":"TooManyRequests""#), "{a}");
            }
            other => panic!("writer {i} answered {other:?}: {a}"),
        }
    }
    assert_eq!(created.len(), LIMIT, "exactly the admitted writers were stored");
    assert_eq!(lease_names(&c).await, created, "the store holds exactly the 201s: none lost, none refused stored");

    // The client honours Retry-After: every one of many concurrent writes lands.
    const PATIENT: usize = 100;
    let mut tasks = Vec::new();
    for i in 0..PATIENT {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{{"name":"patient-{i:03}"}}}}"#);
            c.request(Method::POST, LEASES, Some((body.into_bytes(), "application/json"))).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("a client write lands, waiting out any 429");
    }
    let names = lease_names(&c).await;
    assert_eq!(names.iter().filter(|n| n.starts_with("patient-")).count(), PATIENT);
    assert_eq!(names.len(), LIMIT + PATIENT);
    drop(server);
}
