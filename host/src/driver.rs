//! The driver: the only place that knows both the engine and the outside world. It runs
//! operations to completion, carrying out the engine's actions with the transport, the
//! challenge solver and the store, with many requests in flight at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use certsmith_core::{Action, ChallengeTask, Input, OpId, Outcome};
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::clock::now;
use crate::engine::{AcmeEngine, EngineError};
use crate::solvers::Solver;
use crate::transport::Transport;

/// What happened, for progress display and logs. Never carries key material.
#[derive(Debug)]
pub enum Event<'a> {
    /// A request goes out.
    Request {
        /// The operation.
        op: OpId,
        /// `GET`, `HEAD` or `POST`.
        method: &'static str,
        /// The URL.
        url: &'a str,
    },
    /// A challenge is being published.
    Deploying {
        /// The operation.
        op: OpId,
        /// The challenge.
        task: &'a ChallengeTask,
    },
    /// A challenge was removed.
    CleanedUp {
        /// The operation.
        op: OpId,
        /// The challenge.
        task: &'a ChallengeTask,
    },
    /// A cleanup failed (the operation goes on).
    CleanupFailed {
        /// The operation.
        op: OpId,
        /// The challenge.
        task: &'a ChallengeTask,
        /// Why.
        reason: &'a str,
    },
}

/// Where the driver keeps order snapshots.
pub trait SnapshotSink {
    /// Stores the snapshot (JSON, holds the certificate key) of operation `op`.
    fn save<'a>(
        &'a mut self,
        op: OpId,
        snapshot_json: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;
}

/// How an operation ended.
pub type OpResult = Result<Outcome, certsmith_core::Error>;

/// A completed piece of I/O.
enum Completion {
    /// The response (or transport failure) of a request.
    Response(OpId, Result<certsmith_core::HttpResponse, String>),
    /// A challenge deployment finished.
    Deployed(OpId, String, Result<(), String>),
    /// A cleanup finished.
    CleanedUp(OpId, ChallengeTask, Result<(), String>),
}

/// Boxed I/O futures, polled together.
type Pending<'a> = FuturesUnordered<Pin<Box<dyn Future<Output = Completion> + 'a>>>;

/// The outside world an engine needs.
pub struct Driver<'a, S: Solver> {
    /// The HTTP client.
    pub transport: &'a Transport,
    /// The challenge solver (`None` for operations that publish no challenge).
    pub solver: Option<&'a S>,
    /// Where snapshots go.
    pub snapshots: &'a mut dyn SnapshotSink,
    /// Progress and log sink.
    pub events: &'a mut dyn FnMut(Event<'_>),
}

impl<S: Solver> Driver<'_, S> {
    /// Runs `engine` until every operation in `ops` has ended; returns how each ended.
    pub async fn run(
        &mut self,
        engine: &mut dyn AcmeEngine,
        ops: &[OpId],
    ) -> Result<BTreeMap<OpId, OpResult>, EngineError> {
        let mut results = BTreeMap::new();
        let mut pending: Pending<'_> = FuturesUnordered::new();
        let transport = self.transport;
        let solver = self.solver;
        while !ops.iter().all(|op| results.contains_key(op)) {
            while let Some(output) = engine.poll(now())? {
                let op = output.op;
                match output.action {
                    Action::Send(request) => {
                        (self.events)(Event::Request {
                            op,
                            method: request.method.as_str(),
                            url: &request.url,
                        });
                        pending.push(Box::pin(async move {
                            let result = transport.send(&request).await.map_err(|e| e.to_string());
                            Completion::Response(op, result)
                        }));
                    }
                    Action::Deploy(task) => {
                        (self.events)(Event::Deploying { op, task: &task });
                        pending.push(Box::pin(async move {
                            let result = match solver {
                                Some(solver) => {
                                    solver.deploy(&task).await.map_err(|e| e.to_string())
                                }
                                None => Err("no challenge solver was chosen".to_owned()),
                            };
                            Completion::Deployed(op, task.token, result)
                        }));
                    }
                    Action::Cleanup(task) => {
                        pending.push(Box::pin(async move {
                            let result = match solver {
                                Some(solver) => {
                                    solver.cleanup(&task).await.map_err(|e| e.to_string())
                                }
                                None => Ok(()),
                            };
                            Completion::CleanedUp(op, task, result)
                        }));
                    }
                    Action::Save(snapshot) => {
                        if let Err(reason) = self.snapshots.save(op, &snapshot.to_json()).await {
                            tracing::warn!(%op, "could not save the order snapshot: {reason}");
                        }
                    }
                    Action::Done(outcome) => {
                        results.insert(op, Ok(outcome));
                    }
                    Action::Failed(error) => {
                        results.insert(op, Err(error));
                    }
                }
            }
            if ops.iter().all(|op| results.contains_key(op)) {
                break;
            }
            let wakeup = engine.next_wakeup()?;
            let completion = match wakeup {
                Some(at) => {
                    let wait = Duration::from_millis(at.millis_since(now()));
                    tokio::select! {
                        c = pending.next(), if !pending.is_empty() => c,
                        () = tokio::time::sleep(wait) => None,
                    }
                }
                None if pending.is_empty() => {
                    return Err(EngineError::Wasm(
                        "the engine waits for nothing and has not finished (engine bug)".into(),
                    ));
                }
                None => pending.next().await,
            };
            if let Some(completion) = completion {
                self.complete(engine, completion)?;
            }
        }
        // Let cleanups finish: a challenge must not stay published.
        while let Some(completion) = pending.next().await {
            self.complete(engine, completion)?;
        }
        Ok(results)
    }

    /// Feeds a finished piece of I/O back to the engine.
    fn complete(
        &mut self,
        engine: &mut dyn AcmeEngine,
        completion: Completion,
    ) -> Result<(), EngineError> {
        match completion {
            Completion::Response(op, Ok(response)) => {
                crate::crash_point::response_arrived();
                engine.handle(now(), op, Input::Response(response))
            }
            Completion::Response(op, Err(reason)) => {
                engine.handle(now(), op, Input::TransportError(reason))
            }
            Completion::Deployed(op, token, Ok(())) => {
                engine.handle(now(), op, Input::ChallengeReady { token })
            }
            Completion::Deployed(op, token, Err(reason)) => {
                engine.handle(now(), op, Input::ChallengeFailed { token, reason })
            }
            Completion::CleanedUp(op, task, result) => {
                match result {
                    Ok(()) => (self.events)(Event::CleanedUp { op, task: &task }),
                    Err(reason) => (self.events)(Event::CleanupFailed {
                        op,
                        task: &task,
                        reason: &reason,
                    }),
                }
                Ok(())
            }
        }
    }
}
