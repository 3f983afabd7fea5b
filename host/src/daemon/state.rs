//! What the daemon knows about itself, shared between the certificate manager and the
//! listeners: Prometheus metrics (`/metrics`) and each certificate's status (`/status`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// A label set naming one certificate.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabel {
    /// The certificate's lineage name.
    pub name: String,
}

/// A label set naming an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `success`, `failure` or `by_another_process` (renewals), `ok` or `failed`
    /// (handshakes), `obtained`, `refused` or `failed` (on-demand).
    pub result: &'static str,
}

/// A label set naming an HTTP method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// `GET`, `HEAD` or `POST`.
    pub method: &'static str,
}

/// The daemon's metrics, named as Prometheus recommends.
pub struct Metrics {
    registry: Registry,
    /// `certsmith_certificate_expiry_timestamp_seconds{name}`.
    pub expiry: Family<NameLabel, Gauge>,
    /// `certsmith_certificate_renewals_total{result}`: orders that ended.
    pub renewals: Family<ResultLabel, Counter>,
    /// `certsmith_acme_requests_total{method}`: requests sent to the CA.
    pub acme_requests: Family<MethodLabel, Counter>,
    /// `certsmith_acme_request_duration_seconds{method}`: how long the CA took to answer.
    pub acme_latency: Family<MethodLabel, Histogram>,
    /// `certsmith_tls_handshakes_total{result}`.
    pub handshakes: Family<ResultLabel, Counter>,
    /// `certsmith_on_demand_certificates_total{result}`: `obtained`, `refused`, `failed`.
    pub on_demand: Family<ResultLabel, Counter>,
}

impl Metrics {
    /// Every metric registered, at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("certsmith");
        let expiry = Family::<NameLabel, Gauge>::default();
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "When the served certificate expires (Unix time)",
            expiry.clone(),
        );
        let renewals = Family::<ResultLabel, Counter>::default();
        registry.register(
            "certificate_renewals",
            "Certificate orders that ended, by result",
            renewals.clone(),
        );
        let acme_requests = Family::<MethodLabel, Counter>::default();
        registry.register(
            "acme_requests",
            "Requests sent to the ACME server",
            acme_requests.clone(),
        );
        let acme_latency = Family::<MethodLabel, Histogram>::new_with_constructor(|| {
            // 5 ms to about 20 s.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.005, 2.0, 12,
            ))
        });
        registry.register(
            "acme_request_duration_seconds",
            "How long the ACME server took to answer, by method",
            acme_latency.clone(),
        );
        let handshakes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "tls_handshakes",
            "TLS handshakes on the HTTPS listener, by result",
            handshakes.clone(),
        );
        let on_demand = Family::<ResultLabel, Counter>::default();
        registry.register(
            "on_demand_certificates",
            "Handshakes that asked for a certificate on demand, by result",
            on_demand.clone(),
        );
        Self {
            registry,
            on_demand,
            expiry,
            renewals,
            acme_requests,
            acme_latency,
            handshakes,
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!("cannot encode the metrics: {e}");
        }
        text
    }
}

/// One certificate as `/status` shows it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertStatus {
    /// Its names.
    pub names: Vec<String>,
    /// The served certificate's serial (hex), if one is served.
    pub serial: Option<String>,
    /// When the served certificate expires (RFC 3339).
    pub not_after: Option<String>,
    /// When it is due for renewal (RFC 3339).
    pub renew_at: Option<String>,
    /// When the manager looks at it next (RFC 3339).
    pub next_check: Option<String>,
    /// Renewals that failed in a row.
    pub failures: u32,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// Everything shared.
pub struct State {
    /// The metrics.
    pub metrics: Metrics,
    /// Lineage name → status.
    pub status: Mutex<BTreeMap<String, CertStatus>>,
}

impl State {
    /// Fresh state.
    pub fn new() -> Self {
        Self {
            metrics: Metrics::new(),
            status: Mutex::new(BTreeMap::new()),
        }
    }

    /// Changes the status of `name` with `change`.
    pub fn update(&self, name: &str, change: impl FnOnce(&mut CertStatus)) {
        if let Ok(mut all) = self.status.lock() {
            change(all.entry(name.to_owned()).or_default());
        }
    }

    /// Forgets `name` (no longer managed).
    pub fn forget(&self, name: &str) {
        if let Ok(mut all) = self.status.lock() {
            all.remove(name);
        }
        self.metrics.expiry.remove(&NameLabel {
            name: name.to_owned(),
        });
    }

    /// `/status` as JSON.
    pub fn status_json(&self) -> String {
        let all = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        serde_json::to_string_pretty(&serde_json::json!({ "certificates": all }))
            .unwrap_or_default()
    }
}
