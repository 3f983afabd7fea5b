//! What every command that talks to a CA sets up: the store, the CA's directory, the
//! transport, the account key and URL, and the engine; and running operations to their end.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use certsmith_core::{ClientConfig, Command, KeyType, OpId, PrivateKey};
use serde::{Deserialize, Serialize};

use super::{Failure, exit, key_rollover};
use crate::cli::{CaArgs, directory_url};
use crate::driver::{Engine, Event, Hub, OpIo, OpResult};
use crate::engine::{self, AcmeEngine, EngineError};
use crate::layout;
use crate::progress::Progress;
use crate::storage::{Holder, Lease, Secrecy, Store};
use crate::transport::Transport;

/// How long one HTTP request to the CA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a command waits for another process that holds the lock of what it changes:
/// longer than an issuance with a slow DNS propagation check.
pub const LOCK_WAIT: Duration = Duration::from_secs(900);

/// What is kept about an account besides its key.
#[derive(Serialize, Deserialize)]
struct AccountMeta {
    /// The account URL (`kid`).
    url: String,
}

/// A command's connection to one CA with one account.
pub struct Session {
    /// The store.
    pub store: Store,
    /// The CA's directory URL.
    pub directory: String,
    /// The CA's name in the store.
    pub ca: String,
    /// The HTTPS client.
    pub transport: Rc<Transport>,
    /// The engine, with the account key.
    pub engine: Engine,
    /// The account URL, if the account is registered.
    pub account_url: Option<String>,
    /// Where the account URL is kept.
    account_meta: String,
    /// Where the account key is kept.
    pub account_key: String,
    /// The account's name in the store (its email, or `default`).
    pub account: String,
}

impl Session {
    /// Opens the store, generates the account key on first use, and loads the engine.
    pub async fn open(args: &CaArgs, store: Store, state_dir: &Path) -> Result<Self, Failure> {
        let directory = directory_url(&args.server).to_owned();
        let ca = layout::ca_slug(&directory);
        let account = args.email.as_deref().unwrap_or("default");
        let roots: Vec<&Path> = args.ca_cert.iter().map(|p| p.as_path()).collect();
        let transport = Rc::new(
            Transport::new(&roots, REQUEST_TIMEOUT)
                .map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?,
        );
        let account_key_name = layout::account_key(&ca, account);
        let key_pem = account_key(&store, &account_key_name).await?;
        let account_meta = layout::account_meta(&ca, account);
        let account_url = store
            .get(&account_meta)
            .await?
            .and_then(|bytes| serde_json::from_slice::<AccountMeta>(&bytes).ok())
            .map(|meta| meta.url);
        let config = ClientConfig {
            account_url: account_url.clone(),
            user_agent: Some(concat!("certsmith/", env!("CARGO_PKG_VERSION")).to_owned()),
            ..ClientConfig::new(directory.clone())
        };
        let cache_dir = state_dir.join(layout::CACHE_DIR);
        let reopen = |key_pem: &str| {
            engine::open(
                config.clone(),
                key_pem,
                args.engine.as_deref(),
                Some(&cache_dir),
            )
        };
        let engine = Engine::Local(Box::new(Hub::new(reopen(&key_pem)?, Rc::clone(&transport))));
        let registered = account_url.is_some();
        let mut session = Self {
            store,
            directory,
            ca,
            transport,
            engine,
            account_url,
            account_meta,
            account_key: account_key_name,
            account: account.to_owned(),
        };
        if registered {
            key_rollover::settle(&mut session, &reopen).await?;
        }
        Ok(session)
    }

    /// The command that registers the account: contact `email` (if any), terms agreed.
    pub fn new_account(
        email: Option<&str>,
        external_account: Option<certsmith_core::ExternalAccountKey>,
    ) -> Command {
        Command::NewAccount(certsmith_core::NewAccountRequest {
            contact: email.iter().map(|e| format!("mailto:{e}")).collect(),
            terms_of_service_agreed: true,
            only_return_existing: false,
            external_account,
        })
    }

    /// Takes how a [`Session::new_account`] operation ended: the account URL kept (in the
    /// store and the session), or the failure.
    pub async fn registered(&mut self, result: Option<OpResult>) -> Result<(), Failure> {
        match result {
            Some(Ok(certsmith_core::Outcome::Account(info))) => {
                self.account_url = Some(info.url.clone());
                self.save_account(info.url).await
            }
            Some(Err(failure)) => Err(failure.into()),
            other => Err(Failure::new(
                exit::OTHER,
                format!("unexpected account outcome {other:?}"),
            )),
        }
    }

    /// Records the account URL the CA gave.
    pub async fn save_account(&self, url: String) -> Result<(), Failure> {
        let meta = serde_json::to_vec(&AccountMeta { url }).unwrap_or_default();
        Ok(self
            .store
            .put(&self.account_meta, &meta, Secrecy::Public)
            .await?)
    }

    /// Hands this session's engine to a hub that serves many sessions at once: returns the
    /// future that runs it (to spawn on this thread); [`Session::fork`] makes the sessions.
    pub fn share(
        &mut self,
        observe: Box<dyn FnMut(&Event<'_>)>,
    ) -> Option<impl std::future::Future<Output = ()> + use<>> {
        let placeholder = Engine::Shared(crate::driver::HubClient::closed());
        match std::mem::replace(&mut self.engine, placeholder) {
            Engine::Local(hub) => {
                let (client, serve) = (*hub).share(observe);
                self.engine = Engine::Shared(client);
                Some(serve)
            }
            shared => {
                self.engine = shared;
                None
            }
        }
    }

    /// Another session on the same shared engine, store, CA and account.
    pub fn fork(&self) -> Option<Self> {
        let Engine::Shared(client) = &self.engine else {
            return None;
        };
        Some(Self {
            store: self.store.clone(),
            directory: self.directory.clone(),
            ca: self.ca.clone(),
            transport: Rc::clone(&self.transport),
            engine: Engine::Shared(client.clone()),
            account_url: self.account_url.clone(),
            account_meta: self.account_meta.clone(),
            account_key: self.account_key.clone(),
            account: self.account.clone(),
        })
    }

    /// Uses `engine` (signing with another account key) from now on.
    pub fn replace_engine(&mut self, engine: Box<dyn AcmeEngine>) {
        self.engine = Engine::Local(Box::new(Hub::new(engine, Rc::clone(&self.transport))));
    }

    /// Starts an operation that publishes no challenge and keeps no snapshot.
    pub async fn start(&mut self, command: Command) -> Result<OpId, EngineError> {
        self.engine.start(command, OpIo::default()).await
    }

    /// Runs `ops` to their end, showing progress; how each ended.
    pub async fn run(
        &mut self,
        ops: &[OpId],
        progress: &mut Progress,
    ) -> Result<BTreeMap<OpId, OpResult>, Failure> {
        let mut events = |event: Event<'_>| progress.event(event);
        Ok(self.engine.run(ops, &mut events).await?)
    }
}

/// Takes lock `name` in `store`, waiting at most [`LOCK_WAIT`] for another process that
/// holds it, with a progress line naming the holder.
pub async fn lock(store: &Store, name: &str, progress: &mut Progress) -> Result<Lease, Failure> {
    let mut waiting = |holder: &Holder| {
        progress.notice(format!("waiting for the lock on {name} held by {holder}"));
    };
    Ok(store.lock(name, LOCK_WAIT, &mut waiting).await?)
}

/// The account key PEM, generated and stored on first use. Processes that race to create
/// it all end up with the one that was stored first (and so with one account).
async fn account_key(store: &Store, key: &str) -> Result<String, Failure> {
    let bytes = match store.get(key).await? {
        Some(bytes) => bytes,
        None => {
            let pem = PrivateKey::generate(KeyType::P256)
                .map_err(|e| Failure::new(exit::OTHER, e.to_string()))?
                .to_pem();
            if store.put_new(key, pem.as_bytes(), Secrecy::Secret).await? {
                pem.as_bytes().to_vec()
            } else {
                // Another process stored its key first: use that one.
                store.get(key).await?.unwrap_or_default()
            }
        }
    };
    pem_text(bytes, key)
}

/// `bytes` as PEM text, or an error naming the stored key `name`.
pub fn pem_text(bytes: Vec<u8>, name: &str) -> Result<String, Failure> {
    String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            exit::LOCAL,
            format!("the account key {name} is not PEM text"),
        )
    })
}
