//! Account operations: create or find, fetch, update, deactivate, key rollover; and
//! revocation, which is signed by the account or the certificate key.

use serde::Serialize;

use crate::client::api::{
    AccountInfo, NewAccountRequest, Outcome, RevocationRequest, RevocationSigner,
};
use crate::client::flow::{Ctx, Flow, Step};
use crate::client::request::{self, RequestSpec, Signer};
use crate::error::Error;
use crate::http::HttpResponse;
use crate::jose;
use crate::keys::PrivateKey;
use crate::wire::{Account, AccountStatus};

/// Serialises a JSON payload (our payload types cannot fail to serialise).
fn payload<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The newAccount payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewAccountPayload<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    contact: &'a [String],
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    terms_of_service_agreed: bool,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    only_return_existing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_account_binding: Option<jose::FlattenedJws>,
}

/// An account update: new contacts or a new status.
#[derive(Serialize)]
struct AccountUpdate<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
}

/// The revokeCert payload.
#[derive(Serialize)]
struct Revocation {
    certificate: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<u8>,
}

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
                let body = NewAccountPayload {
                    contact: &req.contact,
                    terms_of_service_agreed: req.terms_of_service_agreed,
                    only_return_existing: req.only_return_existing,
                    external_account_binding,
                };
                RequestSpec::post(url, payload(&body)).signed_by(Signer::AccountJwk)
            }
            AccountFlow::Fetch => RequestSpec::post_as_get(&Self::account_url(ctx)?),
            AccountFlow::Update(contact) => RequestSpec::post(
                &Self::account_url(ctx)?,
                payload(&AccountUpdate {
                    contact: Some(contact),
                    status: None,
                }),
            ),
            AccountFlow::Deactivate => RequestSpec::post(
                &Self::account_url(ctx)?,
                payload(&AccountUpdate {
                    contact: None,
                    status: Some("deactivated"),
                }),
            ),
        };
        Ok(Step::Send(spec))
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_>, response: HttpResponse) -> Result<Step, Error> {
        let url = match self {
            AccountFlow::Create(_) => ctx.directory.new_account.clone(),
            _ => Self::account_url(ctx)?,
        };
        let response = request::expect_success(response, &url, ctx.now)?;
        let account: Account = request::parse_json(&response, &url, "an account object")?;
        let (account_url, created) = match self {
            AccountFlow::Create(_) => (request::location(&response, &url)?, response.status == 201),
            _ => (url.clone(), false),
        };
        if matches!(self, AccountFlow::Deactivate) && account.status != AccountStatus::Deactivated {
            return Err(Error::invalid_response(
                &url,
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

    fn on_response(&mut self, ctx: &mut Ctx<'_>, response: HttpResponse) -> Result<Step, Error> {
        request::expect_success(response, &ctx.directory.key_change, ctx.now)?;
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
        let body = Revocation {
            certificate: jose::b64url(&self.request.certificate_der),
            reason: self.request.reason,
        };
        let spec = RequestSpec::post(&ctx.directory.revoke_cert, payload(&body));
        Ok(Step::Send(match &self.request.signer {
            RevocationSigner::Account => spec,
            RevocationSigner::CertificateKey(key) => spec.signed_by(Signer::OtherJwk(key.clone())),
        }))
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_>, response: HttpResponse) -> Result<Step, Error> {
        request::expect_success(response, &ctx.directory.revoke_cert, ctx.now)?;
        Ok(Step::Finish(Outcome::Revoked))
    }
}
