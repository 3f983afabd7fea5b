//! Certificate signing requests for finalize, built with rcgen and signed with our keys.

use crate::error::Error;
use crate::keys::PrivateKey;
use crate::wire::Identifier;

/// A DER CSR for `identifiers` (DNS and IP SANs, empty subject) signed by `key`.
pub fn build_csr(identifiers: &[Identifier], key: &PrivateKey) -> Result<Vec<u8>, Error> {
    todo!()
}
