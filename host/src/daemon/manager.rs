//! The certificate manager: one task per managed certificate, all on one thread, sharing one
//! engine (one account, one nonce pool) with at most `concurrency` orders at once. Each task
//! serves what the store holds, renews when due (ARI's window when the CA offers it, else a
//! share of the lifetime), backs off after failures on Let's Encrypt's schedule while the old
//! certificate keeps being served, and warns as expiry nears. A rescan picks up certificates
//! another process stored (a fleet on the same store, files replaced on disk).

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use certsmith::tls::{CertResolver, feed};
use certsmith_core::{CertificateInfo, ChallengeType, Timestamp, leaf_der};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::config::{Certificate, Config};
use super::events::{Failed, Webhook};
use super::on_demand::{self, OnDemandManager, Settled};
use super::sites::AdminRequest;
use super::state::{MethodLabel, NameLabel, ResultLabel, State};
use crate::cli::{CaArgs, ObtainArgs, directory_url};
use crate::clock::now;
use crate::commands::Failure;
use crate::commands::issue::{self, Solving, Wanted};
use crate::commands::renewal_time::{RenewalTime, renewal_time};
use crate::commands::session::Session;
use crate::driver::Event;
use crate::layout;
use crate::progress::Progress;
use crate::solvers::AnySolver;
use crate::solvers::tls_alpn::TlsAlpnResolver;
use crate::storage::Store;

/// How long after an order a due certificate waits before the next (a CA that issues
/// certificates already due must not get an order a second).
const MIN_ORDER_GAP_MS: u64 = 10 * 60 * 1000;

/// The longest a task sleeps before looking again (ARI is asked at most this often).
const MAX_SLEEP_MS: u64 = 6 * 60 * 60 * 1000;

/// How many lineages are read from the store at once.
const LOAD_CHUNK: usize = 1000;

/// How long changes to the store are gathered before the changed lineages are read.
const CHANGE_DEBOUNCE: Duration = Duration::from_millis(200);

/// How long a stop waits for orders in flight to finish and clean up.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What the process asks of the manager.
pub enum Control {
    /// A new config (SIGHUP), already checked.
    Reload(Box<Config>),
    /// Stop (SIGTERM, SIGINT).
    Stop,
}

/// Where the manager's requests arrive.
pub struct Inboxes {
    /// From the process: reload, stop.
    pub control: mpsc::UnboundedReceiver<Control>,
    /// From the admin listener.
    pub admin: mpsc::UnboundedReceiver<AdminRequest>,
    /// From handshakes for names without a certificate.
    pub on_demand: mpsc::UnboundedReceiver<on_demand::Wanted>,
}

/// What every certificate task shares.
struct Shared {
    store: Store,
    ca: String,
    resolver: Arc<CertResolver>,
    state: Arc<State>,
    /// Orders running at once.
    orders: Semaphore,
    /// The options every order gets ([acme]).
    base: ObtainArgs,
    /// Days before expiry to warn while renewal fails.
    warn_days: u32,
    /// Where failures are posted.
    webhook: Option<Webhook>,
    /// Order options and solvers, by how a certificate is set up (see [`order_setup`]).
    setups: std::cell::RefCell<HashMap<String, OrderSetup>>,
}

/// A certificate's order options and solver.
type OrderSetup = (Rc<ObtainArgs>, Rc<AnySolver>);

/// A running certificate task.
struct Task {
    certificate: Certificate,
    /// Whether a handshake asked for it (it is not in the config, and a reload keeps it).
    on_demand: bool,
    renew_now: mpsc::UnboundedSender<()>,
    handle: JoinHandle<()>,
}

/// The certificate tasks, and how to start more.
pub struct Tasks {
    shared: Rc<Shared>,
    /// The session every task forks.
    session: Session,
    /// Lineage name → task.
    running: HashMap<String, Task>,
}

impl Tasks {
    /// Starts the task of `certificate`; `ready` hears whether it is served after its first
    /// look (stored, or obtained) or failed.
    pub fn spawn(
        &mut self,
        certificate: Certificate,
        on_demand: bool,
        ready: Option<oneshot::Sender<bool>>,
    ) {
        let Some(session) = self.session.fork() else {
            return;
        };
        let name = layout::cert_name(&certificate.names[0]);
        let (renew_now, requests) = mpsc::unbounded_channel();
        let handle = tokio::task::spawn_local(keep(
            Rc::clone(&self.shared),
            certificate.clone(),
            session,
            (requests, ready),
        ));
        self.running.insert(
            name,
            Task {
                certificate,
                on_demand,
                renew_now,
                handle,
            },
        );
    }

    /// Stops the task of lineage `name` at its next wait.
    pub fn stop(&mut self, name: &str) {
        self.running.remove(name);
    }

    /// Whether a certificate is served for `name`.
    pub fn serves(&self, name: &str) -> bool {
        self.shared.resolver.get(name).is_some()
    }

    /// Whether lineage `name` has a task.
    pub fn manages(&self, name: &str) -> bool {
        self.running.contains_key(name)
    }

    /// Counts an on-demand request by its result.
    pub fn count_on_demand(&self, result: &'static str) {
        self.shared
            .state
            .metrics
            .on_demand
            .get_or_create(&ResultLabel { result })
            .inc();
    }
}

/// The `CaArgs` of `[acme]`.
fn ca_args(config: &Config) -> CaArgs {
    CaArgs {
        server: config.acme.server.clone(),
        ca_cert: config.acme.ca_cert.iter().cloned().collect(),
        email: config.acme.email.clone(),
        engine: None,
    }
}

/// Opens the session of `[acme]`, creating the account if there is none yet.
async fn open_session(
    config: &Config,
    store: Store,
    state_dir: &std::path::Path,
) -> Result<Session, Failure> {
    let mut session = Session::open(&ca_args(config), store, state_dir).await?;
    if session.account_url.is_some() {
        return Ok(session);
    }
    if !config.acme.accept_tos {
        return Err(Failure::new(
            crate::commands::exit::LOCAL,
            format!(
                "no account at {} yet: set accept_tos = true in [acme] to agree to the CA's terms of service and create one",
                session.directory
            ),
        ));
    }
    let op = session
        .start(Session::new_account(config.acme.email.as_deref(), None))
        .await?;
    let mut progress = Progress::new(true);
    let result = session.run(&[op], &mut progress).await?.remove(&op);
    session.registered(result).await?;
    Ok(session)
}

/// Runs the manager until [`Control::Stop`]: serves what the store holds at once, then keeps
/// every certificate of `config` valid.
pub async fn manage(
    config: Config,
    state_dir: PathBuf,
    store: Store,
    (resolver, state): (Arc<CertResolver>, Arc<State>),
    mut inboxes: Inboxes,
) -> Result<(), Failure> {
    let shared = Rc::new(Shared {
        store: store.clone(),
        ca: layout::ca_slug(directory_url(&config.acme.server)),
        resolver,
        state,
        orders: Semaphore::new(config.renewal.concurrency.max(1)),
        base: ObtainArgs {
            ca: ca_args(&config),
            accept_tos: config.acme.accept_tos,
            profile: config.acme.profile.clone(),
            ..ObtainArgs::default()
        },
        warn_days: config.renewal.warn_days,
        webhook: match &config.notify.webhook {
            Some(url) => {
                Some(Webhook::new(url).map_err(|e| Failure::new(crate::commands::exit::LOCAL, e))?)
            }
            None => None,
        },
        setups: std::cell::RefCell::new(HashMap::new()),
    });
    // Serve what is stored before the CA is asked anything: a restart serves at once, even
    // while the CA is down.
    let managed: Vec<Certificate> = config
        .certificates
        .iter()
        .map(|c| c.get_ref().clone())
        .collect();
    load_all(&shared, &managed).await;
    let mut session = loop {
        match open_session(&config, store.clone(), &state_dir).await {
            Ok(session) => break session,
            Err(failure) if failure.code == crate::commands::exit::LOCAL => return Err(failure),
            Err(failure) => {
                tracing::error!(
                    "cannot reach the CA, trying again in a minute: {}",
                    failure.message
                );
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    request = inboxes.control.recv() => if matches!(request, Some(Control::Stop) | None) {
                        return Ok(());
                    },
                }
            }
        }
    };
    let metrics_state = Arc::clone(&shared.state);
    let observe = Box::new(move |event: &Event<'_>| match event {
        Event::Request { method, .. } => {
            metrics_state
                .metrics
                .acme_requests
                .get_or_create(&MethodLabel { method })
                .inc();
        }
        Event::Answered {
            method, elapsed, ..
        } => {
            metrics_state
                .metrics
                .acme_latency
                .get_or_create(&MethodLabel { method })
                .observe(elapsed.as_secs_f64());
        }
        _ => {}
    });
    let Some(hub) = session.share(observe) else {
        return Err(Failure::new(
            crate::commands::exit::OTHER,
            "the engine is already shared",
        ));
    };
    let hub = tokio::task::spawn_local(hub);
    let mut tasks = Tasks {
        shared: Rc::clone(&shared),
        session,
        running: HashMap::new(),
    };
    apply(&mut tasks, &config);
    let mut on_demand = config.on_demand.clone().map(OnDemandManager::new);
    let mut rescan = tokio::time::interval(config.renewal.rescan());
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (settled, mut settled_inbox) = mpsc::unbounded_channel::<Settled>();
    let (changed, mut changes) = mpsc::unbounded_channel();
    let _watch = store
        .watch_lineages(&shared.ca, changed)
        .inspect_err(|e| tracing::warn!("stored certificates are only rescanned: {e}"))
        .ok();
    loop {
        tokio::select! {
            request = inboxes.control.recv() => match request {
                Some(Control::Reload(config)) => {
                    apply(&mut tasks, &config);
                    tracing::info!("configuration reloaded: {} certificates managed", tasks.running.len());
                }
                Some(Control::Stop) | None => break,
            },
            Some(AdminRequest::RenewNow(name, answer)) = inboxes.admin.recv() => {
                let task = tasks.running.get(&name);
                let _ = answer.send(task.is_some_and(|t| t.renew_now.send(()).is_ok()));
            }
            Some(wanted) = inboxes.on_demand.recv() => match &mut on_demand {
                Some(on_demand) => on_demand.wanted(wanted, &mut tasks, &settled),
                None => {
                    let _ = wanted.reply.send(false);
                }
            },
            Some(step) = settled_inbox.recv() => {
                if let Some(on_demand) = &mut on_demand {
                    on_demand.settled(step, &mut tasks, &settled);
                }
            }
            Some(first) = changes.recv() => {
                // Changes come in bursts (a lineage is several files): take them together.
                tokio::time::sleep(CHANGE_DEBOUNCE).await;
                let mut names = vec![first];
                while let Ok(name) = changes.try_recv() {
                    names.push(name);
                }
                let all = names.iter().any(Option::is_none);
                let changed: Vec<Certificate> = tasks
                    .running
                    .iter()
                    .filter(|(name, _)| all || names.iter().flatten().any(|n| n == *name))
                    .map(|(_, task)| task.certificate.clone())
                    .collect();
                load_all(&shared, &changed).await;
            }
            _ = rescan.tick() => {
                let managed: Vec<Certificate> = tasks.running.values().map(|t| t.certificate.clone()).collect();
                load_all(&shared, &managed).await;
            }
        }
    }
    // Tasks end at their next wait; orders in flight get a while to finish and clean up.
    let mut handles: Vec<JoinHandle<()>> =
        tasks.running.drain().map(|(_, task)| task.handle).collect();
    let finished = futures_util::future::join_all(handles.iter_mut());
    if tokio::time::timeout(STOP_GRACE, finished).await.is_err() {
        tracing::warn!("orders still running after {STOP_GRACE:?} were stopped");
        for handle in &handles {
            handle.abort();
        }
    }
    drop(tasks);
    // The hub ends once every operation still running has ended and cleaned up.
    if tokio::time::timeout(STOP_GRACE, hub).await.is_err() {
        tracing::warn!("operations still running after {STOP_GRACE:?} were dropped");
    }
    Ok(())
}

/// Starts the tasks of certificates new in `config`, stops those no longer in it, and
/// restarts those whose entry changed. On-demand certificates stay.
fn apply(tasks: &mut Tasks, config: &Config) {
    let wanted: HashMap<String, Certificate> = config
        .certificates
        .iter()
        .map(|c| {
            (
                layout::cert_name(&c.get_ref().names[0]),
                c.get_ref().clone(),
            )
        })
        .collect();
    // A task whose entry is gone or changed ends at its next wait (an order in flight
    // finishes, so no lock or challenge is left behind); a changed entry's new task waits
    // for the certificate's lock meanwhile.
    let shared = Rc::clone(&tasks.shared);
    tasks.running.retain(|name, task| {
        if task.on_demand && !wanted.contains_key(name) {
            return true;
        }
        if !wanted.contains_key(name) {
            tracing::info!("{name} is no longer managed");
            shared.resolver.remove(&task.certificate.names);
            shared.state.forget(name);
        }
        wanted.get(name) == Some(&task.certificate)
    });
    for (name, certificate) in wanted {
        if !tasks.running.contains_key(&name) {
            tasks.spawn(certificate, false, None);
        }
    }
}

/// Reads the lineages of `certificates` and serves every whole one whose serial is not
/// served yet; a lineage that does not check out is reported and the last good one kept.
async fn load_all(shared: &Shared, certificates: &[Certificate]) {
    // A thousand at a time: ten thousand lineages read at once would hold ~50 MB of PEM.
    for chunk in certificates.chunks(LOAD_CHUNK) {
        load_chunk(shared, chunk).await;
    }
}

/// [`load_all`] for one chunk.
async fn load_chunk(shared: &Shared, certificates: &[Certificate]) {
    let wanted: Vec<feed::Wanted> = certificates
        .iter()
        .map(|c| feed::Wanted {
            name: layout::cert_name(&c.names[0]),
            names: c.names.clone(),
        })
        .collect();
    let refreshed = match feed::refresh(&shared.store, &shared.ca, &shared.resolver, &wanted).await
    {
        Ok(refreshed) => refreshed,
        Err(e) => {
            tracing::error!("cannot read the stored certificates: {e}");
            return;
        }
    };
    for (wanted, result) in wanted.iter().zip(refreshed) {
        let name = &wanted.name;
        match result {
            feed::Refreshed::Installed(served) => {
                tracing::info!(
                    "{name}: serving certificate {} from the store",
                    served.serial
                );
                record_served(shared, name, &served);
            }
            feed::Refreshed::Unchanged => {}
            feed::Refreshed::Refused(why) => tracing::error!(
                "{name}: the stored certificate is unusable, the served one is kept: {why}"
            ),
        }
    }
}

/// Records a served certificate in the status and metrics.
fn record_served(shared: &Shared, name: &str, served: &certsmith::tls::Served) {
    let not_after = i64::try_from(served.not_after).unwrap_or(i64::MAX);
    shared
        .state
        .metrics
        .expiry
        .get_or_create(&NameLabel {
            name: name.to_owned(),
        })
        .set(not_after);
    shared.state.update(name, |status| {
        status.serial = Some(served.serial.clone());
        status.not_after = Some(Timestamp::from_unix_secs(served.not_after).to_rfc3339());
    });
}

/// The order options of one certificate.
fn obtain_args(shared: &Shared, certificate: &Certificate) -> ObtainArgs {
    let mut args = shared.base.clone();
    args.key_type = certificate.key_type().ok();
    args.deploy_hook = certificate.deploy_hook.clone();
    match certificate.challenge_type() {
        Ok(ChallengeType::Dns01) => {
            args.dns_hook = certificate.dns_hook.clone();
            args.dns_resolver = certificate.dns_resolver;
        }
        Ok(ChallengeType::Http01) => args.http_kv = true,
        _ => {}
    }
    args
}

/// The order options and solver of one certificate: HTTP-01 through the store (answered by
/// the HTTP listener of every daemon on it), TLS-ALPN-01 by the HTTPS listener's resolver,
/// DNS-01 by its hook. Certificates set up alike share them.
async fn order_setup(
    shared: &Shared,
    certificate: &Certificate,
) -> Result<(Rc<ObtainArgs>, Rc<AnySolver>), Failure> {
    let key = format!(
        "{}|{:?}|{:?}|{:?}|{:?}",
        certificate.challenge,
        certificate.key_type,
        certificate.deploy_hook,
        certificate.dns_hook,
        certificate.dns_resolver
    );
    if let Some(setup) = shared.setups.borrow().get(&key) {
        return Ok(setup.clone());
    }
    let args = obtain_args(shared, certificate);
    let solver = if certificate.challenge_type().ok() == Some(ChallengeType::TlsAlpn01) {
        AnySolver::TlsAlpnResolver(TlsAlpnResolver(Arc::clone(&shared.resolver)))
    } else {
        issue::solver(&args, &shared.store).await?
    };
    let setup = (Rc::new(args), Rc::new(solver));
    shared.setups.borrow_mut().insert(key, setup.clone());
    Ok(setup)
}

/// The wait before retrying after `failures` failed renewals in a row: about 1 minute, 10
/// minutes, 100 minutes, then daily (Let's Encrypt's advice), ±10 % so a fleet spreads out.
fn backoff_ms(failures: u32) -> u64 {
    let base: u64 = match failures {
        0 | 1 => 60_000,
        2 => 600_000,
        3 => 6_000_000,
        _ => 86_400_000,
    };
    let mut byte = [0u8; 1];
    let jitter = if getrandom::fill(&mut byte).is_ok() {
        u64::from(byte[0])
    } else {
        128
    };
    // 0.9 … 1.1 of the base.
    base / 10 * 9 + base / 10 * 2 * jitter / 255
}

/// The served certificate's facts and DER, when there is one.
type Held = Option<(CertificateInfo, Vec<u8>)>;

/// The served certificate of `name` and its DER, when the stored lineage is whole and names
/// every name.
async fn current(shared: &Shared, name: &str, names: &[String]) -> Held {
    let lineage = shared.store.read_lineage(&shared.ca, name).await.ok()??;
    let info = lineage.check(Some(names)).ok()?;
    let der = leaf_der(&lineage.cert_pem).ok()?;
    let served = shared.resolver.get(&names[0]);
    if served.is_none_or(|s| s.serial != info.serial_hex) {
        match shared.resolver.install(&lineage) {
            Ok(new) => record_served(shared, name, &new),
            Err(e) => tracing::error!("{name}: cannot serve the stored certificate: {e}"),
        }
    }
    Some((info, der))
}

/// Keeps one certificate valid and served until the manager drops its sender.
async fn keep(
    shared: Rc<Shared>,
    certificate: Certificate,
    session: Session,
    (mut renew_now, ready): (mpsc::UnboundedReceiver<()>, Option<oneshot::Sender<bool>>),
) {
    let name = layout::cert_name(&certificate.names[0]);
    let (args, solver) = match order_setup(&shared, &certificate).await {
        Ok(setup) => setup,
        Err(e) => {
            tracing::error!("{name}: cannot set up its challenge solver: {}", e.message);
            shared
                .state
                .update(&name, |s| s.last_error = Some(e.message));
            return;
        }
    };
    shared
        .state
        .update(&name, |s| s.names = certificate.names.clone());
    let mut keeper = Keeper {
        shared,
        certificate,
        name,
        session,
        args,
        solver,
        failures: 0,
        last_order: None,
        ready,
    };
    let mut forced = false;
    // Until the manager drops the sender: the certificate is no longer managed as it was.
    while !renew_now.is_closed() {
        // Boxed while it runs: an idle task (most of them, most of the time) holds only the
        // keeper, not a look's certificate, DER and futures.
        let Some(next) = Box::pin(keeper.look(forced)).await else {
            forced = false;
            continue;
        };
        forced = false;
        keeper
            .shared
            .state
            .update(&keeper.name, |s| s.next_check = Some(next.to_rfc3339()));
        let wait = Duration::from_millis(next.millis_since(now()));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            request = renew_now.recv() => match request {
                Some(()) => forced = true,
                None => return,
            },
        }
    }
}

/// What a certificate's task keeps between looks.
struct Keeper {
    shared: Rc<Shared>,
    certificate: Certificate,
    /// The lineage name.
    name: String,
    session: Session,
    /// The order options, shared by the certificates set up alike.
    args: Rc<ObtainArgs>,
    /// The solver, shared likewise.
    solver: Rc<AnySolver>,
    /// Renewals that failed in a row.
    failures: u32,
    /// When the last order started.
    last_order: Option<Timestamp>,
    /// Told once whether a certificate is served (on-demand handshakes wait for it).
    ready: Option<oneshot::Sender<bool>>,
}

impl Keeper {
    /// Tells whoever waits for the first certificate whether there is one.
    fn report_ready(&mut self, served: bool) {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(served);
        }
    }

    /// Looks at the certificate, renews it if due (or `forced`): when to look again, or
    /// `None` to look again at once (a new certificate was just stored).
    async fn look(&mut self, forced: bool) -> Option<Timestamp> {
        let shared = Rc::clone(&self.shared);
        let name = self.name.clone();
        let mut progress = Progress::new(true);
        // A certificate another process stores after this look is used instead of ordering.
        let looked = now();
        let held = current(&shared, &name, &self.certificate.names).await;
        if held.is_some() {
            self.report_ready(true);
        }
        let due = match &held {
            Some((info, der)) => renewal_time(&mut self.session, &name, (info, der), &mut progress)
                .await
                .ok(),
            None => None,
        };
        let started = now();
        let rested = self
            .last_order
            .is_none_or(|at| started.millis_since(at) >= MIN_ORDER_GAP_MS);
        let due_now = held.is_none() || due.is_some_and(|d| d.at <= started);
        if let Some(due) = due {
            shared
                .state
                .update(&name, |s| s.renew_at = Some(due.at.to_rfc3339()));
        }
        // After a failure the backoff has already spaced the attempts.
        if forced || (due_now && (rested || self.failures > 0)) {
            self.last_order = Some(started);
            let ordered = obtain(
                &shared,
                &mut self.session,
                (&self.certificate, &self.args),
                (&held, due, looked),
                &self.solver,
            )
            .await;
            return match ordered {
                Ok(()) => {
                    self.failures = 0;
                    shared.state.update(&name, |s| {
                        s.failures = 0;
                        s.last_error = None;
                    });
                    None
                }
                Err(message) => Some(self.failed(started, message, held.as_ref())),
            };
        }
        Some(if due_now {
            self.last_order
                .map_or(started, |at| at.plus_millis(MIN_ORDER_GAP_MS))
        } else {
            // Awake when due, when the CA said to ask again, and at least every 6 hours.
            let ask_again = due.and_then(|d| d.ask_again_at);
            // Unknown (the store could not be read): look again in a minute.
            due.map_or(started.plus_millis(60_000), |d| d.at)
                .min(ask_again.unwrap_or(started.plus_millis(MAX_SLEEP_MS)))
                .min(started.plus_millis(MAX_SLEEP_MS))
        })
    }

    /// Records a failed renewal (log, webhook, status, expiry warning): when to try again.
    fn failed(
        &mut self,
        started: Timestamp,
        message: String,
        held: Option<&(CertificateInfo, Vec<u8>)>,
    ) -> Timestamp {
        self.report_ready(false);
        self.failures += 1;
        let (failures, name) = (self.failures, &self.name);
        let next_try = started.plus_millis(backoff_ms(failures));
        let info = held.map(|(info, _)| info);
        tracing::error!(
            "{name}: renewal failed (attempt {failures}, next at {}): {message}",
            next_try.to_rfc3339()
        );
        if let Some(webhook) = &self.shared.webhook {
            webhook.post(&Failed {
                name,
                names: &self.certificate.names,
                error: &message,
                attempt: failures,
                next_try: next_try.to_rfc3339(),
                not_after: info.map(|i| i.not_after.to_rfc3339()),
            });
        }
        self.shared.state.update(name, |s| {
            s.failures = failures;
            s.last_error = Some(message);
        });
        warn_of_expiry(&self.shared, name, info);
        next_try
    }
}

/// One order for `certificate` under the order limit, recorded in the metrics.
async fn obtain(
    shared: &Shared,
    session: &mut Session,
    (certificate, args): (&Certificate, &ObtainArgs),
    (held, due, looked): (&Held, Option<RenewalTime>, Timestamp),
    solver: &Rc<AnySolver>,
) -> Result<(), String> {
    let Ok(_permit) = shared.orders.acquire().await else {
        return Err("the manager is stopping".into());
    };
    let replaces = match (due, held) {
        (Some(RenewalTime { from_ari: true, .. }), Some((info, _))) => info.ari_id.clone(),
        _ => None,
    };
    let wanted = Wanted {
        domains: &certificate.names,
        replaces,
        started: looked,
    };
    let mut progress = Progress::new(true);
    let result = issue::obtain_quietly(
        session,
        &wanted,
        args,
        Solving::With(Rc::clone(solver)),
        &mut progress,
    )
    .await;
    let name = layout::cert_name(&certificate.names[0]);
    let label = match &result {
        Ok(obtained) if obtained.ordered.is_some() => {
            tracing::info!("{name}: certificate {} stored", obtained.stored.serial);
            "success"
        }
        Ok(obtained) => {
            tracing::info!(
                "{name}: certificate {} was stored by another process meanwhile",
                obtained.stored.serial
            );
            "by_another_process"
        }
        Err(_) => "failure",
    };
    shared
        .state
        .metrics
        .renewals
        .get_or_create(&ResultLabel { result: label })
        .inc();
    result.map(|_| ()).map_err(|failure| failure.message)
}

/// A warning when the served certificate of `name` expires within the warning period while
/// renewal fails; an error once it has expired.
fn warn_of_expiry(shared: &Shared, name: &str, info: Option<&CertificateInfo>) {
    let Some(info) = info else {
        return;
    };
    let now = now();
    if info.not_after <= now {
        tracing::error!(
            "{name}: the served certificate expired at {}",
            info.not_after.to_rfc3339()
        );
    } else if info.not_after.millis_since(now) < u64::from(shared.warn_days) * 86_400_000 {
        tracing::warn!(
            "{name}: the served certificate expires at {} and renewal keeps failing",
            info.not_after.to_rfc3339()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_lets_encrypts_schedule_with_jitter() {
        for (failures, base) in [
            (1, 60_000u64),
            (2, 600_000),
            (3, 6_000_000),
            (4, 86_400_000),
            (9, 86_400_000),
        ] {
            for _ in 0..50 {
                let wait = backoff_ms(failures);
                assert!(
                    wait >= base / 10 * 9 && wait <= base / 10 * 11,
                    "{failures}: {wait}"
                );
            }
        }
    }
}
