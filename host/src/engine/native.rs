//! The engine linked as a plain Rust crate (feature `native`).

use certsmith_core::{Client, ClientConfig, Command, Input, OpId, Output, PrivateKey, Timestamp};

use super::{AcmeEngine, EngineError};

/// The native engine: a `certsmith_core::Client`.
pub struct NativeEngine {
    client: Client,
}

impl NativeEngine {
    /// An engine for `config`, signing with the account key in `account_key_pem`.
    pub fn new(config: ClientConfig, account_key_pem: &str) -> Result<Self, EngineError> {
        let key = PrivateKey::from_pem(account_key_pem)?;
        Ok(Self {
            client: Client::new(config, key),
        })
    }
}

impl AcmeEngine for NativeEngine {
    fn start(&mut self, command: Command) -> Result<OpId, EngineError> {
        Ok(self.client.start(command)?)
    }

    fn poll(&mut self, now: Timestamp) -> Result<Option<Output>, EngineError> {
        Ok(self.client.poll(now))
    }

    fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), EngineError> {
        Ok(self.client.handle(now, op, input)?)
    }

    fn next_wakeup(&mut self) -> Result<Option<Timestamp>, EngineError> {
        Ok(self.client.next_wakeup())
    }

    fn requests_sent(&mut self) -> Result<u64, EngineError> {
        Ok(self.client.requests_sent())
    }
}
