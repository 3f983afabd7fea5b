//! The driver: the only place that knows both the engine and the outside world. A [`Hub`]
//! owns one engine (one account, one nonce pool) and carries out its actions with the
//! transport, each operation's challenge solver and the store, with many requests in flight
//! at once. A command drives it in place until its operations end ([`Hub::run`]); the daemon
//! hands it to a task of its own that takes operations from many callers ([`Hub::serve`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use certsmith_core::{Action, ChallengeTask, Command, Input, OpId, Outcome};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::clock::now;
use crate::engine::{AcmeEngine, EngineError};
use crate::solvers::{AnySolver, Solver};
use crate::storage::FencedKey;
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
    /// A request was answered (or failed in transport).
    Answered {
        /// The operation.
        op: OpId,
        /// `GET`, `HEAD` or `POST`.
        method: &'static str,
        /// From sending to the whole response (or the failure).
        elapsed: Duration,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
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

/// How an operation ended.
pub type OpResult = Result<Outcome, certsmith_core::Error>;

/// What an operation needs besides the CA: who publishes its challenges, and where its
/// snapshots go (as secrets: they hold the certificate key).
#[derive(Clone, Default)]
pub struct OpIo {
    /// The challenge solver (`None` for operations that publish no challenge).
    pub solver: Option<Rc<AnySolver>>,
    /// Where the operation's snapshots are written, under its certificate's lock.
    pub snapshots: Option<FencedKey>,
}

/// A completed piece of I/O.
enum Completion {
    /// The response (or transport failure) of a request: its method, and how long it took.
    Response(
        OpId,
        (&'static str, Duration),
        Result<certsmith_core::HttpResponse, String>,
    ),
    /// A challenge deployment finished.
    Deployed(OpId, String, Result<(), String>),
    /// A cleanup finished (the flag: it was counted as published).
    CleanedUp(OpId, ChallengeTask, bool, Result<(), String>),
}

/// What a served hub is asked to do.
pub enum Job {
    /// Start an operation; the reply is its id and where its result will arrive.
    Start {
        /// The command (boxed: it is large).
        command: Box<Command>,
        /// Its solver and snapshot key.
        io: OpIo,
        /// Where the id (or the engine's refusal) goes.
        reply: oneshot::Sender<Result<Started, EngineError>>,
    },
    /// How many requests the engine has handed out so far.
    RequestsSent(oneshot::Sender<Result<u64, EngineError>>),
}

/// A started operation of a served hub: its id and its result to come.
pub type Started = (OpId, oneshot::Receiver<OpResult>);

/// What the hub woke up for.
enum Wake {
    Completion(Completion),
    Job(Job),
    Timer,
    /// The served hub's callers are gone.
    Closed,
}

/// Published challenges by operation and token, with their tasks and solvers.
type Published = HashMap<(OpId, String), (ChallengeTask, Option<Rc<AnySolver>>)>;

/// One engine and its I/O in flight.
pub struct Hub {
    engine: Box<dyn AcmeEngine>,
    transport: Rc<Transport>,
    /// The running operations' solvers and snapshot keys.
    io: HashMap<OpId, OpIo>,
    /// Ended operations whose result nobody has taken yet.
    ended: BTreeMap<OpId, OpResult>,
    /// Where served operations' results go.
    waiters: HashMap<OpId, oneshot::Sender<OpResult>>,
    /// Operations whose snapshot could not be stored, and why: their challenges are not
    /// published (a crash would lose the order and its key, and the next run would order
    /// again with a new key).
    unsaved: HashMap<OpId, String>,
    /// Challenges published (or being published) and not yet being removed, with their
    /// solvers: what an interrupted run removes before it ends.
    published: Published,
    /// Requests, deployments and cleanups in flight.
    pending: FuturesUnordered<Pin<Box<dyn Future<Output = Completion>>>>,
}

impl Hub {
    /// A hub for `engine`, sending with `transport`.
    pub fn new(engine: Box<dyn AcmeEngine>, transport: Rc<Transport>) -> Self {
        Self {
            engine,
            transport,
            io: HashMap::new(),
            ended: BTreeMap::new(),
            waiters: HashMap::new(),
            unsaved: HashMap::new(),
            published: HashMap::new(),
            pending: FuturesUnordered::new(),
        }
    }

    /// Starts an operation with its solver and snapshot key.
    pub fn start(&mut self, command: Command, io: OpIo) -> Result<OpId, EngineError> {
        let op = self.engine.start(command)?;
        self.io.insert(op, io);
        Ok(op)
    }

    /// Requests handed to the host so far.
    pub fn requests_sent(&mut self) -> Result<u64, EngineError> {
        self.engine.requests_sent()
    }

    /// Runs until every operation in `ops` has ended and every challenge is cleaned up;
    /// returns how each ended.
    pub async fn run(
        &mut self,
        ops: &[OpId],
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<BTreeMap<OpId, OpResult>, EngineError> {
        match self.run_to_end(ops, events).await {
            // The engine trapped: nothing more can be asked of it, but what it had
            // published must not stay published.
            Err(EngineError::Wasm(reason)) => {
                self.remove_published(events).await;
                Err(EngineError::Wasm(format!(
                    "{reason}; the order is kept, run the same command again to resume it"
                )))
            }
            other => other,
        }
    }

    /// [`Hub::run`] until the end, or the first failure of the engine.
    async fn run_to_end(
        &mut self,
        ops: &[OpId],
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<BTreeMap<OpId, OpResult>, EngineError> {
        let mut interrupted = std::pin::pin!(crate::interrupt::raised());
        loop {
            self.dispatch(events).await?;
            if ops.iter().all(|op| self.ended.contains_key(op)) {
                break;
            }
            let wake = tokio::select! {
                wake = self.wait(None) => wake?,
                () = &mut interrupted => {
                    let removed = self.remove_published(events).await;
                    return Err(EngineError::Interrupted(removed));
                }
            };
            match wake {
                Wake::Completion(completion) => self.complete(completion, events)?,
                Wake::Timer | Wake::Job(_) | Wake::Closed => {}
            }
        }
        // Let cleanups finish: a challenge must not stay published.
        while let Some(completion) = self.pending.next().await {
            self.complete(completion, events)?;
            self.dispatch(events).await?;
        }
        Ok(ops
            .iter()
            .filter_map(|op| Some((*op, self.ended.remove(op)?)))
            .collect())
    }

    /// Stops everything in flight (a hook running is killed with its process group) and
    /// removes every challenge published: how many.
    async fn remove_published(&mut self, events: &mut dyn FnMut(Event<'_>)) -> usize {
        self.pending.clear();
        let published: Vec<(OpId, ChallengeTask, Option<Rc<AnySolver>>)> = self
            .published
            .drain()
            .map(|((op, _), (task, solver))| (op, task, solver))
            .collect();
        let count = published.len();
        let cleanups = published.into_iter().map(|(op, task, solver)| async move {
            let result = match solver {
                Some(solver) => {
                    tokio::time::timeout(crate::interrupt::GRACE, solver.cleanup(&task))
                        .await
                        .map_err(|_| "it did not finish in time".to_owned())
                        .and_then(|done| done.map_err(|e| e.to_string()))
                }
                None => Ok(()),
            };
            (op, task, result)
        });
        for (op, task, result) in futures_util::future::join_all(cleanups).await {
            cleaned_up(op, &task, (true, result), events);
        }
        count
    }

    /// Serves `jobs` until every sender is gone and nothing is in flight. An engine that
    /// fails (traps) ends the hub: every waiting caller sees its operation end unanswered.
    pub async fn serve(
        mut self,
        mut jobs: mpsc::UnboundedReceiver<Job>,
        mut observe: Box<dyn FnMut(&Event<'_>)>,
    ) {
        let mut log = |event: Event<'_>| {
            log_event(&event);
            observe(&event);
        };
        let mut open = true;
        loop {
            if let Err(e) = self.dispatch(&mut log).await {
                tracing::error!("the ACME engine stopped: {e}");
                return;
            }
            for (op, result) in std::mem::take(&mut self.ended) {
                if let Some(waiter) = self.waiters.remove(&op) {
                    // A caller that gave up on its operation is no error.
                    let _ = waiter.send(result);
                }
            }
            if !open && self.pending.is_empty() && self.waiters.is_empty() {
                return;
            }
            let wake = match self.wait(open.then_some(&mut jobs)).await {
                Ok(wake) => wake,
                Err(e) => {
                    tracing::error!("the ACME engine stopped: {e}");
                    return;
                }
            };
            let done = match wake {
                Wake::Completion(completion) => self.complete(completion, &mut log),
                Wake::Job(job) => {
                    self.take(job);
                    Ok(())
                }
                Wake::Timer => Ok(()),
                Wake::Closed => {
                    open = false;
                    Ok(())
                }
            };
            if let Err(e) = done {
                tracing::error!("the ACME engine stopped: {e}");
                return;
            }
        }
    }

    /// Starts a served job's operation or answers its question.
    fn take(&mut self, job: Job) {
        match job {
            Job::Start { command, io, reply } => {
                let started = self.start(*command, io).map(|op| {
                    let (done, result) = oneshot::channel();
                    self.waiters.insert(op, done);
                    (op, result)
                });
                let _ = reply.send(started);
            }
            Job::RequestsSent(reply) => {
                let _ = reply.send(self.requests_sent());
            }
        }
    }

    /// Carries out every action the engine has due now.
    async fn dispatch(&mut self, events: &mut dyn FnMut(Event<'_>)) -> Result<(), EngineError> {
        while let Some(output) = self.engine.poll(now())? {
            let op = output.op;
            // The operation's solver, for the actions that publish or remove a challenge.
            let solver = || self.io.get(&op).and_then(|io| io.solver.clone());
            match output.action {
                Action::Send(request) => {
                    events(Event::Request {
                        op,
                        method: request.method.as_str(),
                        url: &request.url,
                    });
                    let transport = Rc::clone(&self.transport);
                    let method = request.method.as_str();
                    self.pending.push(Box::pin(async move {
                        let sent = std::time::Instant::now();
                        let result = transport.send(&request).await.map_err(|e| e.to_string());
                        Completion::Response(op, (method, sent.elapsed()), result)
                    }));
                }
                Action::Deploy(task) => {
                    if let Some(why) = self.unsaved.get(&op) {
                        let refused = format!(
                            "not published: the order could not be saved ({why}), and an order a crash would lose must not be answered"
                        );
                        self.pending
                            .push(Box::pin(std::future::ready(Completion::Deployed(
                                op,
                                task.token,
                                Err(refused),
                            ))));
                        continue;
                    }
                    events(Event::Deploying { op, task: &task });
                    let solver = solver();
                    self.published
                        .insert((op, task.token.clone()), (task.clone(), solver.clone()));
                    crate::interrupt::published();
                    self.pending.push(Box::pin(async move {
                        let result = match solver {
                            Some(solver) => solver.deploy(&task).await.map_err(|e| e.to_string()),
                            None => Err("no challenge solver was chosen".to_owned()),
                        };
                        Completion::Deployed(op, task.token, result)
                    }));
                }
                Action::Cleanup(task) => {
                    // The solver that published it: a late cleanup (its deployment reported
                    // after the operation ended) finds no running operation's solver.
                    let published = self.published.remove(&(op, task.token.clone()));
                    let counted = published.is_some();
                    let solver = published.and_then(|(_, solver)| solver).or_else(solver);
                    self.pending.push(Box::pin(async move {
                        let result = match solver {
                            Some(solver) => solver.cleanup(&task).await.map_err(|e| e.to_string()),
                            None => Ok(()),
                        };
                        Completion::CleanedUp(op, task, counted, result)
                    }));
                }
                Action::Save(snapshot) => {
                    match self.io.get(&op).and_then(|io| io.snapshots.clone()) {
                        Some(key) => match key.put_secret(snapshot.to_json().as_bytes()).await {
                            Ok(()) => {
                                self.unsaved.remove(&op);
                            }
                            Err(e) => {
                                tracing::warn!(%op, "could not save the order snapshot: {e}");
                                self.unsaved.insert(op, e.to_string());
                            }
                        },
                        None => tracing::warn!(%op, "this operation keeps no order snapshots"),
                    }
                }
                Action::Done(outcome) => self.end(op, Ok(outcome)),
                Action::Failed(error) => self.end(op, Err(error)),
            }
        }
        Ok(())
    }

    /// Records how `op` ended. Its solver stays with the I/O still in flight (cleanups).
    fn end(&mut self, op: OpId, result: OpResult) {
        self.io.remove(&op);
        self.unsaved.remove(&op);
        self.ended.insert(op, result);
    }

    /// Waits for the next completion, the engine's next wake-up, or (served) a job.
    async fn wait(
        &mut self,
        jobs: Option<&mut mpsc::UnboundedReceiver<Job>>,
    ) -> Result<Wake, EngineError> {
        let sleep = match self.engine.next_wakeup()? {
            Some(at) => Duration::from_millis(at.millis_since(now())),
            None if self.pending.is_empty() && jobs.is_none() => {
                return Err(EngineError::Wasm(
                    "the engine waits for nothing and has not finished (engine bug)".into(),
                ));
            }
            // Nothing is due on the engine's own clock: wait for I/O or a job.
            None => Duration::from_secs(24 * 60 * 60),
        };
        let has_pending = !self.pending.is_empty();
        let job = async {
            match jobs {
                Some(jobs) => jobs.recv().await.map_or(Wake::Closed, Wake::Job),
                None => std::future::pending().await,
            }
        };
        Ok(tokio::select! {
            Some(completion) = self.pending.next(), if has_pending => Wake::Completion(completion),
            wake = job => wake,
            () = tokio::time::sleep(sleep) => Wake::Timer,
        })
    }

    /// Feeds a finished piece of I/O back to the engine. An input the engine refuses (a
    /// host bug: the engine takes even a deployment's result after its order ended) is
    /// logged and dropped: it must not stop the other operations or their cleanups.
    fn complete(
        &mut self,
        completion: Completion,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), EngineError> {
        let (op, input) = match completion {
            Completion::Response(op, (method, elapsed), result) => {
                events(Event::Answered {
                    op,
                    method,
                    elapsed,
                    status: result.as_ref().ok().map(|r| r.status),
                });
                match result {
                    Ok(response) => {
                        crate::crash_point::response_arrived();
                        (op, Input::Response(response))
                    }
                    Err(reason) => (op, Input::TransportError(reason)),
                }
            }
            Completion::Deployed(op, token, Ok(())) => (op, Input::ChallengeReady { token }),
            Completion::Deployed(op, token, Err(reason)) => {
                (op, Input::ChallengeFailed { token, reason })
            }
            Completion::CleanedUp(op, task, counted, result) => {
                cleaned_up(op, &task, (counted, result), events);
                return Ok(());
            }
        };
        match self.engine.handle(now(), op, input) {
            Err(EngineError::Refused(refused)) => {
                tracing::warn!(%op, "the engine did not take a result: {refused}");
                Ok(())
            }
            other => other,
        }
    }
}

/// Reports a finished cleanup of `task` (and uncounts it, when it was `counted` as
/// published).
fn cleaned_up(
    op: OpId,
    task: &ChallengeTask,
    (counted, result): (bool, Result<(), String>),
    events: &mut dyn FnMut(Event<'_>),
) {
    if counted {
        crate::interrupt::removed();
    }
    match result {
        Ok(()) => events(Event::CleanedUp { op, task }),
        Err(reason) => events(Event::CleanupFailed {
            op,
            task,
            reason: &reason,
        }),
    }
}

/// A served hub's events, as log lines.
fn log_event(event: &Event<'_>) {
    match event {
        Event::Request { op, method, url } => tracing::debug!(%op, "{method} {url}"),
        Event::Answered {
            op,
            elapsed,
            status,
            ..
        } => tracing::trace!(%op, "answered in {elapsed:?}: {status:?}"),
        Event::Deploying { op, task } => {
            tracing::info!(%op, "publishing the {} challenge for {}", task.challenge_type().as_str(), task.identifier);
        }
        Event::CleanedUp { op, task } => {
            tracing::debug!(%op, "removed the challenge for {}", task.identifier);
        }
        Event::CleanupFailed { op, task, reason } => {
            tracing::warn!(%op, "could not remove the challenge for {}: {reason}", task.identifier);
        }
    }
}

/// A caller's handle on a served hub: starts operations and waits for their results. Clones
/// share the hub; each keeps its own operations.
pub struct HubClient {
    jobs: mpsc::UnboundedSender<Job>,
    results: HashMap<OpId, oneshot::Receiver<OpResult>>,
}

impl Clone for HubClient {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            results: HashMap::new(),
        }
    }
}

impl HubClient {
    /// A handle on no hub: every call fails as if the hub had stopped.
    pub fn closed() -> Self {
        let (jobs, _) = mpsc::unbounded_channel();
        Self {
            jobs,
            results: HashMap::new(),
        }
    }
}

/// The error of a call to a hub that has stopped.
fn hub_gone() -> EngineError {
    EngineError::Wasm("the ACME engine has stopped (see the log for why)".into())
}

impl Hub {
    /// Serves this hub to many callers: the handle to give them, and the future that runs it
    /// (to spawn on the current thread) until every handle is dropped. `observe` sees every
    /// event (for metrics).
    pub fn share(
        self,
        observe: Box<dyn FnMut(&Event<'_>)>,
    ) -> (HubClient, impl Future<Output = ()>) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let client = HubClient {
            jobs,
            results: HashMap::new(),
        };
        (client, self.serve(receiver, observe))
    }
}

/// The engine a session uses: its own hub, driven while the session waits, or a share of a
/// hub that a daemon runs for all certificates of an account.
pub enum Engine {
    /// Driven in place (boxed: a hub is large beside a handle).
    Local(Box<Hub>),
    /// Served elsewhere on this thread.
    Shared(HubClient),
}

impl Engine {
    /// Starts an operation with its solver and snapshot key.
    pub async fn start(&mut self, command: Command, io: OpIo) -> Result<OpId, EngineError> {
        match self {
            Engine::Local(hub) => hub.start(command, io),
            Engine::Shared(client) => {
                let (reply, started) = oneshot::channel();
                client
                    .jobs
                    .send(Job::Start {
                        command: Box::new(command),
                        io,
                        reply,
                    })
                    .map_err(|_| hub_gone())?;
                let (op, result) = started.await.map_err(|_| hub_gone())??;
                client.results.insert(op, result);
                Ok(op)
            }
        }
    }

    /// Waits until every operation in `ops` has ended; how each ended. `events` sees the
    /// progress of a local engine (a shared one logs its own).
    pub async fn run(
        &mut self,
        ops: &[OpId],
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<BTreeMap<OpId, OpResult>, EngineError> {
        match self {
            Engine::Local(hub) => hub.run(ops, events).await,
            Engine::Shared(client) => {
                let mut results = BTreeMap::new();
                for op in ops {
                    let Some(result) = client.results.remove(op) else {
                        continue;
                    };
                    results.insert(*op, result.await.map_err(|_| hub_gone())?);
                }
                Ok(results)
            }
        }
    }

    /// Requests handed to the host so far.
    pub async fn requests_sent(&mut self) -> Result<u64, EngineError> {
        match self {
            Engine::Local(hub) => hub.requests_sent(),
            Engine::Shared(client) => {
                let (reply, answer) = oneshot::channel();
                client
                    .jobs
                    .send(Job::RequestsSent(reply))
                    .map_err(|_| hub_gone())?;
                answer.await.map_err(|_| hub_gone())?
            }
        }
    }
}
