//! The protocol state machine: one `Client` per (directory, account), many operations.

mod api;
mod snapshot;

pub use api::*;

use crate::error::Error;
use crate::http::HttpResponse;
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;
use crate::wire::Directory;

/// An ACME client for one CA directory and one account key.
pub struct Client {}

impl Client {
    /// A client for `config.directory_url` signing with `account_key`.
    pub fn new(config: ClientConfig, account_key: PrivateKey) -> Self { todo!() }
    /// Creates or finds the account (sets the account URL on success).
    pub fn new_account(&mut self, request: NewAccountRequest) -> OpId { todo!() }
    /// Fetches the account object.
    pub fn fetch_account(&mut self) -> OpId { todo!() }
    /// Replaces the account's contacts.
    pub fn update_account(&mut self, contact: Vec<String>) -> OpId { todo!() }
    /// Deactivates the account.
    pub fn deactivate_account(&mut self) -> OpId { todo!() }
    /// Rolls the account over to `new_key`.
    pub fn change_key(&mut self, new_key: PrivateKey) -> OpId { todo!() }
    /// Orders a certificate.
    pub fn order(&mut self, request: OrderRequest) -> Result<OpId, Error> { todo!() }
    /// Revokes a certificate.
    pub fn revoke(&mut self, request: RevocationRequest) -> OpId { todo!() }
    /// Asks the CA's ARI endpoint when to renew a certificate (DER).
    pub fn renewal_info(&mut self, certificate_der: &[u8]) -> Result<OpId, Error> { todo!() }
    /// Continues an order from a snapshot.
    pub fn resume(&mut self, snapshot: Snapshot) -> Result<OpId, Error> { todo!() }
    /// The next piece of work due at `now`.
    pub fn poll(&mut self, now: Timestamp) -> Option<Output> { todo!() }
    /// Feeds the response to the request `op` last sent.
    pub fn handle_response(&mut self, op: OpId, response: HttpResponse, now: Timestamp) -> Result<(), Error> { todo!() }
    /// Says a deployed challenge (by token) is answerable.
    pub fn challenge_ready(&mut self, op: OpId, token: &str) -> Result<(), Error> { todo!() }
    /// Says a challenge could not be deployed; the order fails after cleanup.
    pub fn challenge_failed(&mut self, op: OpId, token: &str, reason: &str) -> Result<(), Error> { todo!() }
    /// When `poll` will next have work without new input, if ever.
    pub fn next_wakeup(&self) -> Option<Timestamp> { todo!() }
    /// The account URL, once known.
    pub fn account_url(&self) -> Option<&str> { todo!() }
    /// The directory, once fetched.
    pub fn directory(&self) -> Option<&Directory> { todo!() }
    /// The key the client signs with.
    pub fn account_key(&self) -> &PrivateKey { todo!() }
    /// How many requests the client has asked the host to send.
    pub fn requests_sent(&self) -> u64 { todo!() }
}
