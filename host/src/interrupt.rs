//! Ctrl-C and SIGTERM during a one-shot command (`issue`, `renew`, …): a challenge must not
//! stay published because the user stopped certsmith. The signal is raised here; a hub that
//! is running operations sees it, removes every challenge it published and ends with
//! [`EngineError::Interrupted`](crate::engine::EngineError::Interrupted) (the order is kept
//! for the next run), and the command exits 130. With nothing published the command stops
//! at once.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// How long a command may take to remove its challenges after a signal.
pub const GRACE: Duration = Duration::from_secs(15);

/// Whether a signal arrived.
fn flag() -> &'static watch::Sender<bool> {
    static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();
    FLAG.get_or_init(|| watch::channel(false).0)
}

/// Challenges published and not yet removed, in this process.
static PUBLISHED: AtomicUsize = AtomicUsize::new(0);

/// Counts a challenge published (or being published).
pub fn published() {
    PUBLISHED.fetch_add(1, Ordering::SeqCst);
}

/// Counts a challenge removed (or given up on).
pub fn removed() {
    PUBLISHED.fetch_sub(1, Ordering::SeqCst);
}

/// Whether any challenge is published now.
pub fn anything_published() -> bool {
    PUBLISHED.load(Ordering::SeqCst) > 0
}

/// Resolves once SIGINT or SIGTERM arrives (and raises the flag), or never if the signals
/// cannot be watched.
pub async fn signalled() {
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    flag().send_replace(true);
}

/// Resolves once a signal was raised (at once if it already was).
pub fn raised() -> impl Future<Output = ()> {
    let mut receiver = flag().subscribe();
    async move {
        if receiver.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
