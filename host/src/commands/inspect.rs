//! `certsmith inspect FILE | --host HOST:PORT`: what each certificate of a PEM file, or of the
//! chain a TLS server serves, says, readably.

mod peer;

use std::path::{Path, PathBuf};

use certsmith_core::{CertificateInfo, inspect_certificate, split_pem_chain};

use super::{Failure, exit};
use crate::cli::InspectArgs;
use crate::clock::now;

/// One certificate as text.
fn describe(index: usize, info: &CertificateInfo) -> String {
    let days = info.days_left(now());
    let validity = if days < 0 {
        format!("EXPIRED {} days ago", -days)
    } else {
        format!("{days} days left")
    };
    let sans: Vec<&str> = info.sans.iter().map(|s| s.value.as_str()).collect();
    let mut out = format!(
        "certificate {index}{}\n  subject:    {}\n  issuer:     {}\n  serial:     {}\n  not before: {}\n  not after:  {} ({validity})\n  key:        {}\n",
        if info.is_ca { " (CA)" } else { "" },
        if info.subject.is_empty() {
            "(empty)"
        } else {
            &info.subject
        },
        info.issuer,
        info.serial_hex,
        info.not_before,
        info.not_after,
        info.key_type,
    );
    if !sans.is_empty() {
        out.push_str(&format!("  names:      {}\n", sans.join(", ")));
    }
    if !info.is_ca {
        out.push_str(&format!(
            "  renew at:   {} (without ARI)\n",
            info.default_renewal_time()
        ));
    }
    if let Some(id) = &info.ari_id {
        out.push_str(&format!("  ARI id:     {id}\n"));
    }
    out
}

/// One certificate as a JSON object.
fn to_json(info: &CertificateInfo) -> serde_json::Value {
    serde_json::json!({
        "subject": info.subject, "issuer": info.issuer, "serial": info.serial_hex,
        "notBefore": info.not_before.to_rfc3339(), "notAfter": info.not_after.to_rfc3339(),
        "daysLeft": info.days_left(now()), "keyType": info.key_type, "isCa": info.is_ca,
        "names": info.sans.iter().map(|s| &s.value).collect::<Vec<_>>(), "ariId": info.ari_id,
    })
}

/// Reads each certificate of a chain.
fn inspect_all<'a>(
    ders: impl IntoIterator<Item = &'a [u8]>,
    source: &str,
) -> Result<Vec<CertificateInfo>, Failure> {
    ders.into_iter()
        .map(inspect_certificate)
        .collect::<Result<_, _>>()
        .map_err(|e| Failure::new(exit::LOCAL, format!("{source}: {e}")))
}

/// Prints certificates as text or as a JSON array.
fn print_certificates(infos: &[CertificateInfo]) {
    for (index, info) in infos.iter().enumerate() {
        print!("{}", describe(index, info));
    }
}

/// Runs `certsmith inspect`.
pub async fn run(args: InspectArgs, json: bool) -> Result<(), Failure> {
    match (&args.file, &args.host) {
        (Some(file), _) => inspect_file(file, json),
        (None, Some(host)) => inspect_host(host, &args.ca_cert, json).await,
        (None, None) => Err(Failure::new(
            exit::LOCAL,
            "name a PEM file or --host HOST:PORT",
        )),
    }
}

/// `certsmith inspect FILE`.
fn inspect_file(file: &Path, json: bool) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::new(exit::LOCAL, format!("cannot read {}: {e}", file.display())))?;
    let shown = file.display().to_string();
    let ders =
        split_pem_chain(&text).map_err(|e| Failure::new(exit::LOCAL, format!("{shown}: {e}")))?;
    let infos = inspect_all(ders.iter().map(Vec::as_slice), &shown)?;
    if json {
        let list: Vec<_> = infos.iter().map(to_json).collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        print_certificates(&infos);
    }
    Ok(())
}

/// `certsmith inspect --host HOST:PORT`.
async fn inspect_host(target: &str, ca_certs: &[PathBuf], json: bool) -> Result<(), Failure> {
    let roots: Vec<&Path> = ca_certs.iter().map(PathBuf::as_path).collect();
    let seen = peer::fetch_chain(target, &roots).await?;
    let infos = inspect_all(seen.chain.iter().map(|c| c.as_ref()), target)?;
    if json {
        let report = serde_json::json!({
            "host": target,
            "tlsVersion": seen.tls_version,
            "trusted": seen.trust_error.is_none(),
            "trustError": seen.trust_error,
            "certificates": infos.iter().map(to_json).collect::<Vec<_>>(),
        });
        println!("{report}");
    } else {
        println!("{target}: {}", seen.tls_version);
        match &seen.trust_error {
            None => println!("  trusted: yes (system roots and any --ca-cert)"),
            Some(why) => println!("  trusted: NO — {why}"),
        }
        print_certificates(&infos);
    }
    Ok(())
}
