//! What the user sees while an operation runs: a live line per step on a terminal (indicatif),
//! plain log lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use certsmith_core::Solution;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::driver::Event;

/// Shows progress of a run.
pub struct Progress {
    /// Live lines, when stderr is a terminal and output is not JSON.
    live: Option<MultiProgress>,
    /// The line of the current step.
    current: Option<ProgressBar>,
}

impl Progress {
    /// Live lines on a terminal unless `quiet`; log lines otherwise.
    pub fn new(quiet: bool) -> Self {
        let live = (!quiet && std::io::stderr().is_terminal()).then(MultiProgress::new);
        Self {
            live,
            current: None,
        }
    }

    /// Starts a named step (account, order, finalize…), finishing the previous one.
    pub fn step(&mut self, message: impl Into<String>) {
        let message = message.into();
        self.finish_current();
        match &self.live {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(100));
                bar.set_message(message);
                self.current = Some(bar);
            }
            None => tracing::info!("{message}"),
        }
    }

    /// A step the user must see even without a terminal (waiting for another process's
    /// lock, a saved order abandoned): a live line on a terminal, a warning line otherwise.
    pub fn notice(&mut self, message: impl Into<String>) {
        if self.live.is_some() {
            self.step(message);
        } else {
            self.finish_current();
            tracing::warn!("{}", message.into());
        }
    }

    /// Marks the current step done.
    pub fn finish_current(&mut self) {
        if let Some(bar) = self.current.take() {
            bar.finish_with_message(format!("✓ {}", bar.message()));
        }
    }

    /// Takes a driver event.
    pub fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Request { op, method, url } => tracing::debug!(%op, "{method} {url}"),
            Event::Answered { .. } => {}
            Event::Deploying { op, task } => {
                tracing::debug!(%op, "deploying the challenge for {}", task.identifier);
                let what = match &task.solution {
                    Solution::Http01 { path } => format!("http-01 at {path}"),
                    Solution::Dns01 { record_name, .. } => format!("dns-01 TXT {record_name}"),
                    Solution::TlsAlpn01 { .. } => "tls-alpn-01".to_owned(),
                };
                self.step(format!("challenge for {}: {what}", task.identifier));
            }
            Event::CleanedUp { op, task } => {
                tracing::debug!(%op, "cleaned up the challenge for {}", task.identifier);
            }
            Event::CleanupFailed { op, task, reason } => {
                tracing::warn!(
                    %op,
                    "could not clean up the challenge for {}: {reason}",
                    task.identifier
                );
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish_current();
    }
}
