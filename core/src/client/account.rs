//! Account operations: create or find, fetch, update, deactivate, key rollover; and
//! revocation, which is signed by the account or the certificate key.

use crate::base64url::b64url;
use crate::client::api::{
    AccountInfo, NewAccountRequest, Outcome, RevocationRequest, RevocationSigner,
};
use crate::client::flow::{Ctx, Flow, Step};
use crate::client::request::{Reply, RequestSpec, Signer};
use crate::error::Error;
use crate::jose;
use crate::json::{self, ObjectWriter};
use crate::keys::PrivateKey;
use crate::wire::{Account, AccountStatus};

/// What to do to the account.
#[derive(Debug)]
pub(crate) enum AccountFlow {
    /// newAccount (create or find).
    Create(NewAccountRequest),
    /// POST-as-GET the account.
    Fetch,
    /// Replace the contacts.
    Update(Vec<String>),
    /// Deactivate.
    Deactivate,
}

impl AccountFlow {
    /// The account URL, the URL of the request, for operations on an existing account.
    fn account_url(ctx: &Ctx<'_>) -> Result<String, Error> {
        ctx.account_url.map(str::to_owned).ok_or(Error::NoAccount)
    }
}

impl Flow for AccountFlow {
    fn needs_account(&self) -> bool {
        !matches!(self, AccountFlow::Create(_))
    }

    fn creates_account(&self) -> bool {
        matches!(self, AccountFlow::Create(_))
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        let spec = match self {
            AccountFlow::Create(req) => {
                let url = &ctx.directory.new_account;
                let external_account_binding = match &req.external_account {
                    Some(eab) => Some(jose::external_account_binding(
                        &eab.kid,
                        &eab.hmac_key,
                        &ctx.account_key.jwk(),
                        url,
                    )?),
                    None if ctx.directory.meta.external_account_required
                        && !req.only_return_existing =>
                    {
                        return Err(Error::invalid_input(
                            "account request",
                            "an external account binding (EAB key id and HMAC key): this CA requires one for new accounts",
                        ));
                    }
                    None => None,
                };
                // The newAccount payload; members left out when empty or false.
                let mut body = ObjectWriter::new();
                if !req.contact.is_empty() {
                    body = body.raw("contact", &json::write_strings(&req.contact));
                }
                if req.terms_of_service_agreed {
                    body = body.boolean("termsOfServiceAgreed", true);
                }
                if req.only_return_existing {
                    body = body.boolean("onlyReturnExisting", true);
                }
                if let Some(eab) = external_account_binding {
                    body = body.raw("externalAccountBinding", &eab.to_json());
                }
                RequestSpec::post(url, body.finish().into_bytes()).signed_by(Signer::AccountJwk)
            }
            AccountFlow::Fetch => RequestSpec::post_as_get(&Self::account_url(ctx)?),
            AccountFlow::Update(contact) => RequestSpec::post(
                &Self::account_url(ctx)?,
                ObjectWriter::new()
                    .raw("contact", &json::write_strings(contact.iter()))
                    .finish()
                    .into_bytes(),
            ),
            AccountFlow::Deactivate => RequestSpec::post(
                &Self::account_url(ctx)?,
                ObjectWriter::new()
                    .string("status", "deactivated")
                    .finish()
                    .into_bytes(),
            ),
        };
        Ok(Step::Send(spec))
    }

    fn on_response(&mut self, _ctx: &mut Ctx<'_>, reply: Reply) -> Result<Step, Error> {
        let account: Account = reply.json("an account object")?;
        let (account_url, created) = match self {
            AccountFlow::Create(_) => (reply.location()?, reply.response.status == 201),
            _ => (reply.url.clone(), false),
        };
        if matches!(self, AccountFlow::Deactivate) && account.status != AccountStatus::Deactivated {
            return Err(Error::invalid_response(
                &reply.url,
                "the account with status \"deactivated\"",
            ));
        }
        Ok(Step::Finish(Outcome::Account(AccountInfo {
            url: account_url,
            account,
            created,
        })))
    }
}

/// Account key rollover (RFC 8555 §7.3.5).
#[derive(Debug)]
pub(crate) struct KeyChangeFlow {
    /// The key the account moves to.
    pub new_key: PrivateKey,
}

impl Flow for KeyChangeFlow {
    fn needs_account(&self) -> bool {
        true
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        let url = &ctx.directory.key_change;
        let account_url = ctx.account_url.ok_or(Error::NoAccount)?;
        let inner =
            jose::key_change_inner(&self.new_key, account_url, &ctx.account_key.jwk(), url)?;
        Ok(Step::Send(RequestSpec::post(url, inner.to_body())))
    }

    fn on_response(&mut self, _ctx: &mut Ctx<'_>, _reply: Reply) -> Result<Step, Error> {
        Ok(Step::Finish(Outcome::KeyChanged))
    }

    fn replacement_account_key(&self) -> Option<&PrivateKey> {
        Some(&self.new_key)
    }
}

/// Certificate revocation (RFC 8555 §7.6).
#[derive(Debug)]
pub(crate) struct RevokeFlow {
    /// What to revoke and who signs.
    pub request: RevocationRequest,
}

impl Flow for RevokeFlow {
    fn needs_account(&self) -> bool {
        matches!(self.request.signer, RevocationSigner::Account)
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        if let Some(reason) = self.request.reason
            && (reason == 7 || reason > 10)
        {
            return Err(Error::invalid_input(
                format!("revocation reason {reason}"),
                "an RFC 5280 reason code: 0-6, 8, 9 or 10",
            ));
        }
        // The revokeCert payload: the certificate and, when given, the reason code.
        let mut body =
            ObjectWriter::new().string("certificate", &b64url(&self.request.certificate_der));
        if let Some(reason) = self.request.reason {
            body = body.unsigned("reason", u64::from(reason));
        }
        let spec = RequestSpec::post(&ctx.directory.revoke_cert, body.finish().into_bytes());
        Ok(Step::Send(match &self.request.signer {
            RevocationSigner::Account => spec,
            RevocationSigner::CertificateKey(key) => spec.signed_by(Signer::OtherJwk(key.clone())),
        }))
    }

    fn on_response(&mut self, _ctx: &mut Ctx<'_>, _reply: Reply) -> Result<Step, Error> {
        Ok(Step::Finish(Outcome::Revoked))
    }
}
