//! Challenge solvers: make a challenge answerable, and remove it afterwards.

pub mod dns_hook;
pub mod http01;
pub mod http_edge;
pub mod http_kv;
pub mod tls_alpn;
pub mod webroot;

use std::future::Future;
use std::net::SocketAddr;

use certsmith_core::{ChallengeTask, ChallengeType};

/// Why a challenge could not be published or removed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SolverError(pub String);

/// Publishes and removes challenges.
pub trait Solver {
    /// Makes `task` answerable; returns once the CA can validate it.
    fn deploy(&self, task: &ChallengeTask) -> impl Future<Output = Result<(), SolverError>>;
    /// Removes `task`.
    fn cleanup(&self, task: &ChallengeTask) -> impl Future<Output = Result<(), SolverError>>;
}

/// The solver a command line chose.
pub enum AnySolver {
    /// `--http ADDR:PORT`.
    Http(http01::Http01Standalone),
    /// `--webroot DIR`.
    Webroot(webroot::Webroot),
    /// `--tls-alpn ADDR:PORT`.
    TlsAlpn(tls_alpn::TlsAlpnStandalone),
    /// The daemon's HTTPS listener.
    TlsAlpnResolver(tls_alpn::TlsAlpnResolver),
    /// `--dns-hook CMD` (boxed: the resolver is large).
    Dns(Box<dns_hook::DnsHook>),
    /// `--http-kv`.
    HttpKv(http_kv::HttpKv),
    /// `--http-edge URL`.
    HttpEdge(http_edge::HttpEdge),
}

impl AnySolver {
    /// The one challenge type this solver answers: what the order asks the CA for.
    pub fn challenge_type(&self) -> ChallengeType {
        match self {
            AnySolver::Http(_)
            | AnySolver::Webroot(_)
            | AnySolver::HttpKv(_)
            | AnySolver::HttpEdge(_) => ChallengeType::Http01,
            AnySolver::TlsAlpn(_) | AnySolver::TlsAlpnResolver(_) => ChallengeType::TlsAlpn01,
            AnySolver::Dns(_) => ChallengeType::Dns01,
        }
    }
}

impl AnySolver {
    /// Stops a built-in server (its port is free once this returns); other solvers hold
    /// nothing to stop.
    pub async fn stop(&mut self) {
        match self {
            AnySolver::Http(s) => s.stop().await,
            AnySolver::TlsAlpn(s) => s.stop().await,
            _ => {}
        }
    }
}

impl Solver for AnySolver {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        match self {
            AnySolver::Http(s) => s.deploy(task).await,
            AnySolver::Webroot(s) => s.deploy(task).await,
            AnySolver::TlsAlpn(s) => s.deploy(task).await,
            AnySolver::TlsAlpnResolver(s) => s.deploy(task).await,
            AnySolver::Dns(s) => s.deploy(task).await,
            AnySolver::HttpKv(s) => s.deploy(task).await,
            AnySolver::HttpEdge(s) => s.deploy(task).await,
        }
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        match self {
            AnySolver::Http(s) => s.cleanup(task).await,
            AnySolver::Webroot(s) => s.cleanup(task).await,
            AnySolver::TlsAlpn(s) => s.cleanup(task).await,
            AnySolver::TlsAlpnResolver(s) => s.cleanup(task).await,
            AnySolver::Dns(s) => s.cleanup(task).await,
            AnySolver::HttpKv(s) => s.cleanup(task).await,
            AnySolver::HttpEdge(s) => s.cleanup(task).await,
        }
    }
}

/// A listener's bind failure as one line that says what to do; `flag` is the option that
/// chose the address.
pub(crate) fn bind_error(addr: SocketAddr, flag: &str, e: &std::io::Error) -> SolverError {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!(" — another server is there; stop it or pick another {flag} ADDR:PORT")
        }
        std::io::ErrorKind::PermissionDenied => {
            " — ports below 1024 need root or CAP_NET_BIND_SERVICE".to_owned()
        }
        _ => String::new(),
    };
    SolverError(format!("cannot listen on {addr}: {e}{hint}"))
}

/// The HTTP-01 token and body of a task, or an error if it is not an HTTP-01 task.
pub(crate) fn http01_of(task: &ChallengeTask) -> Result<(&str, &str), SolverError> {
    match task.solution {
        certsmith_core::Solution::Http01 { .. } => {
            Ok((task.token.as_str(), task.key_authorization.as_str()))
        }
        _ => Err(SolverError(format!(
            "this solver answers http-01 only, not {} for {}",
            task.challenge_type().as_str(),
            task.identifier
        ))),
    }
}

/// The token, if it is base64url (safe as a file name, a store key and a URL path segment).
pub(crate) fn checked_token(token: &str) -> Result<&str, SolverError> {
    if certsmith_core::is_base64url(token, certsmith_core::MAX_CHALLENGE_TOKEN_LEN) {
        Ok(token)
    } else {
        Err(SolverError(format!(
            "refusing a challenge token that is not base64url: {token:?}"
        )))
    }
}
