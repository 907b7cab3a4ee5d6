//! The driver of leader election (`podcore::controller::leaderelection`):
//! reads and writes the Lease, and runs a component's work only while the
//! elector says it leads. Losing the lease ends the work — the process
//! exits, as upstream's components do, and is restarted as a candidate.

use crate::{log, now};
use client::Client;
use podcore::controller::leaderelection::{Attempt, Config, Elector};
use podcore::object::{Kind, Object};
use podcore::status::ApiError;
use std::future::Future;
use std::time::Duration;

/// A unique candidate name: host, process and a random part (upstream:
/// hostname and a UUID), so a restarted process is a new candidate.
pub fn identity() -> String {
    use std::io::Read;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    let mut b = [0u8; 4];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    format!("{host}_{}_{:08x}", std::process::id(), u32::from_le_bytes(b))
}

/// One read of the lease and the write the elector asks for.
async fn try_once(client: &Client, e: &mut Elector) -> Result<(), ApiError> {
    let started = now();
    let current = match client.get(Kind::Lease, &e.cfg.namespace, &e.cfg.name).await {
        Ok(o) => o.as_lease().cloned(),
        Err(err) if err.code == 404 => None,
        Err(err) => return Err(err),
    };
    let written = match e.attempt(started, current.as_ref()) {
        Attempt::Create(l) => client.create(&Object::Lease(l)).await?,
        Attempt::Update(l) => client.update(&Object::Lease(l)).await?,
        Attempt::Wait => return Ok(()),
    };
    if let Some(l) = written.as_lease() {
        e.succeeded(started, l);
    }
    Ok(())
}

/// Waits until this process leads, then runs `work` while it renews the
/// lease every retry period. Returns `work`'s result (after releasing the
/// lease) or, when a renewal has not succeeded within the renew deadline,
/// an error at that deadline, `work` dropped unfinished.
pub async fn run_elected<F, Fut>(client: Client, cfg: Config, component: &str, work: F) -> Result<(), String>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    cfg.validate()?;
    let retry = Duration::from_millis(cfg.retry_period_ms as u64);
    let mut e = Elector::new(cfg.clone());
    log(component, &format!("leader election: candidate {} for lease {}/{}", cfg.identity, cfg.namespace, cfg.name));
    loop {
        if let Err(err) = try_once(&client, &mut e).await {
            if err.code != 409 {
                log(component, &format!("leader election: {err}"));
            }
        }
        if e.leading(now()) {
            break;
        }
        tokio::time::sleep(retry).await;
    }
    log(component, &format!("leader election: {} leads", cfg.identity));
    // Renewals on a task of their own, so the work never waits for them;
    // each attempt is cut off at the deadline, so a hung request cannot
    // keep a leader acting past it.
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<String>();
    let renew_client = client.clone();
    let renewing = tokio::spawn(async move {
        loop {
            tokio::time::sleep(retry).await;
            let left = e.cfg.renew_deadline_ms - now().ms_since(e.renewed_at().unwrap_or_else(now));
            let attempt = tokio::time::timeout(Duration::from_millis(left.max(1) as u64), try_once(&renew_client, &mut e)).await;
            if let Ok(Err(err)) = attempt {
                log("leader election", &format!("renewing: {err}"));
            }
            if !e.leading(now()) {
                let _ = lost_tx.send(format!("leader election: lost the lease {}/{} (no renewal within {} ms); stopped acting", e.cfg.namespace, e.cfg.name, e.cfg.renew_deadline_ms));
                return;
            }
        }
    });
    let result = tokio::select! {
        r = work() => r,
        lost = lost_rx => Err(lost.unwrap_or_else(|_| "leader election: the renewals stopped".into())),
    };
    renewing.abort();
    if result.is_ok() {
        release(&client, &cfg).await;
    }
    result
}

/// Gives the lease up so that another candidate takes it at once.
pub async fn release(client: &Client, cfg: &Config) {
    let Ok(o) = client.get(Kind::Lease, &cfg.namespace, &cfg.name).await else { return };
    let Some(l) = o.as_lease() else { return };
    if let Some(released) = Elector::new(cfg.clone()).release(l, now()) {
        let _ = client.update(&Object::Lease(released)).await;
    }
}
