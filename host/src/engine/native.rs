//! The engine linked as a plain Rust crate (feature `native`).

use certsmith_core::{
    Action, Client, ClientConfig, HttpResponse, NewAccountRequest, OpId, OrderRequest, PrivateKey,
    RevocationRequest, Snapshot, Timestamp,
};

use super::{AcmeEngine, EngineAction, EngineError, EngineOutput};

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
    fn new_account(&mut self, request: NewAccountRequest) -> Result<OpId, EngineError> {
        Ok(self.client.new_account(request))
    }

    fn order(&mut self, request: OrderRequest) -> Result<OpId, EngineError> {
        Ok(self.client.order(request)?)
    }

    fn fetch_account(&mut self) -> Result<OpId, EngineError> {
        Ok(self.client.fetch_account())
    }

    fn update_account(&mut self, contact: Vec<String>) -> Result<OpId, EngineError> {
        Ok(self.client.update_account(contact))
    }

    fn deactivate_account(&mut self) -> Result<OpId, EngineError> {
        Ok(self.client.deactivate_account())
    }

    fn change_key(&mut self, new_key_pem: &str) -> Result<OpId, EngineError> {
        Ok(self.client.change_key(PrivateKey::from_pem(new_key_pem)?))
    }

    fn revoke(&mut self, request: RevocationRequest) -> Result<OpId, EngineError> {
        Ok(self.client.revoke(request))
    }

    fn resume(&mut self, snapshot_json: &str) -> Result<OpId, EngineError> {
        Ok(self.client.resume(Snapshot::from_json(snapshot_json)?)?)
    }

    fn abandon(&mut self, snapshot_json: &str) -> Result<OpId, EngineError> {
        Ok(self.client.abandon(&Snapshot::from_json(snapshot_json)?)?)
    }

    fn renewal_info(&mut self, certificate_der: &[u8]) -> Result<OpId, EngineError> {
        Ok(self.client.renewal_info(certificate_der)?)
    }

    fn poll(&mut self, now: Timestamp) -> Result<Option<EngineOutput>, EngineError> {
        Ok(self.client.poll(now).map(|output| EngineOutput {
            op: output.op,
            action: match output.action {
                Action::Send(r) => EngineAction::Send(r),
                Action::Deploy(t) => EngineAction::Deploy(t),
                Action::Cleanup(t) => EngineAction::Cleanup(t),
                Action::Save(s) => EngineAction::Save(s.to_json()),
                Action::Done(o) => EngineAction::Done(o),
                Action::Failed(e) => EngineAction::Failed(e.into()),
            },
        }))
    }

    fn handle_response(
        &mut self,
        op: OpId,
        response: HttpResponse,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        Ok(self.client.handle_response(op, response, now)?)
    }

    fn handle_transport_error(
        &mut self,
        op: OpId,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        Ok(self.client.handle_transport_error(op, reason, now)?)
    }

    fn challenge_ready(&mut self, op: OpId, token: &str) -> Result<(), EngineError> {
        Ok(self.client.challenge_ready(op, token)?)
    }

    fn challenge_failed(&mut self, op: OpId, token: &str, reason: &str) -> Result<(), EngineError> {
        Ok(self.client.challenge_failed(op, token, reason)?)
    }

    fn next_wakeup(&mut self) -> Result<Option<Timestamp>, EngineError> {
        Ok(self.client.next_wakeup())
    }

    fn requests_sent(&mut self) -> Result<u64, EngineError> {
        Ok(self.client.requests_sent())
    }
}
