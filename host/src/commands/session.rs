//! What every command that talks to a CA sets up: the store, the CA's directory, the
//! transport, the account key and URL, and the engine; and running operations to their end.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use certsmith_core::{ClientConfig, KeyType, OpId, PrivateKey};
use serde::{Deserialize, Serialize};

use super::{Failure, exit};
use crate::cli::{CaArgs, directory_url};
use crate::driver::{Driver, Event, OpResult, SnapshotSink};
use crate::engine::{self, AcmeEngine};
use crate::layout;
use crate::progress::Progress;
use crate::solvers::AnySolver;
use crate::storage::{FsStore, Secrecy};
use crate::transport::Transport;

/// How long one HTTP request to the CA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What is kept about an account besides its key.
#[derive(Serialize, Deserialize)]
struct AccountMeta {
    /// The account URL (`kid`).
    url: String,
}

/// A command's connection to one CA with one account.
pub struct Session {
    /// The state directory.
    pub store: FsStore,
    /// The CA's directory URL.
    pub directory: String,
    /// The CA's name in the store.
    pub ca: String,
    /// The HTTPS client.
    pub transport: Transport,
    /// The engine, with the account key.
    pub engine: Box<dyn AcmeEngine>,
    /// The account URL, if the account is registered.
    pub account_url: Option<String>,
    /// Where the account URL is kept.
    account_meta: String,
    /// Where the account key is kept.
    pub account_key: String,
}

impl Session {
    /// Opens the store, generates the account key on first use, and loads the engine.
    pub fn open(args: &CaArgs, state_dir: &Path) -> Result<Self, Failure> {
        let store = FsStore::open(state_dir)?;
        let directory = directory_url(&args.server).to_owned();
        let ca = layout::ca_slug(&directory);
        let account = args.email.as_deref().unwrap_or("default");
        let roots: Vec<&Path> = args.ca_cert.iter().map(|p| p.as_path()).collect();
        let transport = Transport::new(&roots, REQUEST_TIMEOUT)
            .map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?;
        let account_key_name = layout::account_key(&ca, account);
        let key_pem = account_key(&store, &account_key_name)?;
        let account_meta = layout::account_meta(&ca, account);
        let account_url = store
            .get(&account_meta)?
            .and_then(|bytes| serde_json::from_slice::<AccountMeta>(&bytes).ok())
            .map(|meta| meta.url);
        let config = ClientConfig {
            account_url: account_url.clone(),
            ..ClientConfig::new(directory.clone())
        };
        let engine = engine::open(
            config,
            &key_pem,
            args.engine.as_deref(),
            Some(&state_dir.join("cache")),
        )?;
        Ok(Self {
            store,
            directory,
            ca,
            transport,
            engine,
            account_url,
            account_meta,
            account_key: account_key_name,
        })
    }

    /// Records the account URL the CA gave.
    pub fn save_account(&self, url: String) -> Result<(), Failure> {
        let meta = serde_json::to_vec(&AccountMeta { url }).unwrap_or_default();
        Ok(self.store.put(&self.account_meta, &meta, Secrecy::Public)?)
    }

    /// Runs `ops` to their end, showing progress; how each ended. Snapshots go to
    /// `snapshot_key` (as secrets: they hold the certificate key).
    pub async fn run(
        &mut self,
        ops: &[OpId],
        solver: Option<&AnySolver>,
        snapshot_key: Option<&str>,
        progress: &mut Progress,
    ) -> Result<BTreeMap<OpId, OpResult>, Failure> {
        let mut sink = StoreSink {
            store: &self.store,
            key: snapshot_key,
        };
        let mut events = |event: Event<'_>| progress.event(event);
        let mut driver = Driver {
            transport: &self.transport,
            solver,
            snapshots: &mut sink,
            events: &mut events,
        };
        Ok(driver.run(self.engine.as_mut(), ops).await?)
    }
}

/// Order snapshots go to the store, as secrets.
struct StoreSink<'a> {
    store: &'a FsStore,
    key: Option<&'a str>,
}

impl SnapshotSink for StoreSink<'_> {
    fn save(&mut self, _op: OpId, snapshot_json: &str) -> Result<(), String> {
        let key = self.key.ok_or("this command keeps no order snapshots")?;
        self.store
            .put(key, snapshot_json.as_bytes(), Secrecy::Secret)
            .map_err(|e| e.to_string())
    }
}

/// The account key PEM, generated and stored on first use.
fn account_key(store: &FsStore, key: &str) -> Result<String, Failure> {
    if let Some(bytes) = store.get(key)? {
        return String::from_utf8(bytes).map_err(|_| {
            Failure::new(
                exit::LOCAL,
                format!("the account key {key} is not PEM text"),
            )
        });
    }
    let pem = PrivateKey::generate(KeyType::P256)
        .map_err(|e| Failure::new(exit::OTHER, e.to_string()))?
        .to_pem();
    store.put(key, pem.as_bytes(), Secrecy::Secret)?;
    Ok(pem.to_string())
}
