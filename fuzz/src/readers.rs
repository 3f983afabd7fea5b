//! The engine's readers of PEM, DER and JSON given any bytes: no panic, and what they
//! accept holds up against the crates of the field (the engine writes its own DER and JSON
//! to stay small; these crates are its oracles here as in its tests).

use certsmith_core::{
    PrivateKey, ari_cert_id, b64url_decode, inspect_certificate, leaf_der, split_pem_chain,
};

/// The PEM/DER target: certificate chains, certificates, private keys, base64url.
pub fn pem_der(data: &[u8]) {
    if let Ok(info) = inspect_certificate(data) {
        // The engine's DER reader accepted it; so must x509-cert.
        use x509_cert::der::Decode as _;
        assert!(
            x509_cert::Certificate::from_der(data).is_ok(),
            "the engine read a certificate x509-cert refuses: {info:?}"
        );
        let _ = ari_cert_id(data);
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(ders) = split_pem_chain(&text) {
        for der in ders {
            let _ = inspect_certificate(&der);
        }
    }
    let _ = leaf_der(&text);
    if let Ok(key) = PrivateKey::from_pem(&text) {
        let again = PrivateKey::from_pem(&key.to_pem()).map(|again| again.public_key_der());
        assert_eq!(
            again.ok(),
            Some(key.public_key_der()),
            "a written key reads back as the same key"
        );
    }
    let _ = b64url_decode(&text, "fuzz input");
}

/// The JSON target: the engine's reader never accepts what serde_json refuses.
pub fn json(data: &[u8]) {
    if certsmith_core::fuzzing::json_accepts(data) {
        assert!(
            serde_json::from_slice::<serde_json::Value>(data).is_ok(),
            "the engine accepted JSON serde_json refuses: {:?}",
            String::from_utf8_lossy(data)
        );
    }
}
