//! Writes the seed corpora (`fuzz/corpus/<target>/seed-*`) from real answers: each CA
//! target gets the test CA's own answer to its endpoint in a clean run, the snapshot target
//! the snapshot saved in one. Run from `fuzz/`: `cargo run --example write_seeds`.

use std::fs;
use std::path::Path;

use certsmith_core::{KeyType, PrivateKey, leaf_der};
use certsmith_fuzz::flow::{self, ENDPOINTS};
use certsmith_fuzz::response;

/// The fuzz target that fuzzes `endpoint`'s answers.
fn target_of(endpoint: &str) -> &'static str {
    match endpoint {
        "dir" => "ca_directory",
        "nonce" => "ca_nonce",
        "new-acct" => "ca_account",
        "new-order" => "ca_order",
        "authz" => "ca_authorization",
        "chall" => "ca_challenge",
        "order" => "ca_order_poll",
        "finalize" => "ca_finalize",
        "cert" => "ca_certificate",
        _ => "ca_renewal_info",
    }
}

fn main() -> std::io::Result<()> {
    let answers = flow::clean_run_answers();
    for endpoint in ENDPOINTS {
        let answered = answers.iter().filter(|(e, _)| e == endpoint);
        write(
            target_of(endpoint),
            answered.map(|(_, answer)| response::encode(answer)),
        )?;
    }
    let snapshot = flow::saved_snapshot().map_err(std::io::Error::other)?;
    write("snapshot", [snapshot.to_json().into_bytes()])?;
    let chain = answers
        .iter()
        .find(|(endpoint, _)| endpoint == "cert")
        .map(|(_, answer)| answer.body.clone())
        .unwrap_or_default();
    let leaf = leaf_der(&String::from_utf8_lossy(&chain)).unwrap_or_default();
    let key = PrivateKey::generate(KeyType::P256).map_err(std::io::Error::other)?;
    write("pem_der", [chain, leaf, key.to_pem().as_bytes().to_vec()])?;
    let json_bodies = answers
        .iter()
        .filter(|(_, answer)| answer.body.starts_with(b"{"))
        .map(|(_, answer)| answer.body.clone());
    write("json", json_bodies)?;
    write("plugin_request", plugin_requests())?;
    write("ca_problem", problems(answers.len()))?;
    Ok(())
}

/// Writes `seeds` as `corpus/<target>/seed-<n>`.
fn write(target: &str, seeds: impl IntoIterator<Item = Vec<u8>>) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir)?;
    for (i, seed) in seeds.into_iter().enumerate() {
        fs::write(dir.join(format!("seed-{i}")), seed)?;
    }
    Ok(())
}

/// Problem documents in `flow::answer_with_problem`'s form (request, status, body), one
/// for each request of a run: badNonce, rateLimited with subproblems, serverInternal.
fn problems(requests: usize) -> Vec<Vec<u8>> {
    let bodies = [
        (
            0u8,
            r#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"}"#,
        ),
        (
            29,
            r#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down","subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","identifier":{"type":"dns","value":"fuzz.example"}}]}"#,
        ),
        (
            100,
            r#"{"type":"urn:ietf:params:acme:error:serverInternal","status":500}"#,
        ),
    ];
    (0..requests)
        .map(|step| {
            let (status, body) = bodies[step % bodies.len()];
            let mut seed = vec![u8::try_from(step).unwrap_or(u8::MAX), status];
            seed.extend_from_slice(body.as_bytes());
            seed
        })
        .collect()
}

/// Requests in `plugin::handle_request`'s form: a token fetched, stored through the admin
/// API with a key authorization, and deleted.
fn plugin_requests() -> Vec<Vec<u8>> {
    const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    const THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let request = |method: u8, flags: u8, path: String, body: &str| {
        let mut bytes = vec![method, flags];
        bytes.extend_from_slice(path.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(body.as_bytes());
        bytes
    };
    vec![
        request(0, 2, format!("/.well-known/acme-challenge/{TOKEN}"), ""),
        request(1, 2, format!("/.well-known/acme-challenge/{TOKEN}"), ""),
        request(
            2,
            4,
            format!("/.well-known/certsmith/http01/{TOKEN}"),
            &format!("{TOKEN}.{THUMBPRINT}"),
        ),
        request(3, 4, format!("/.well-known/certsmith/http01/{TOKEN}"), ""),
    ]
}
