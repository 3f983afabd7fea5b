//! `certsmith inspect FILE`: what each certificate of a PEM file says, readably.

use std::path::Path;

use certsmith_core::cert::{CertificateInfo, inspect, split_pem_chain};

use super::{Failure, exit};
use crate::driver::now;

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

/// Runs `certsmith inspect`.
pub fn run(file: &Path, json: bool) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::new(exit::LOCAL, format!("cannot read {}: {e}", file.display())))?;
    let bad =
        |e: certsmith_core::Error| Failure::new(exit::LOCAL, format!("{}: {e}", file.display()));
    let infos: Vec<CertificateInfo> = split_pem_chain(&text)
        .map_err(bad)?
        .iter()
        .map(|der| inspect(der))
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    if json {
        let list: Vec<_> = infos
            .iter()
            .map(|i| {
                serde_json::json!({
                    "subject": i.subject, "issuer": i.issuer, "serial": i.serial_hex,
                    "notBefore": i.not_before.to_rfc3339(), "notAfter": i.not_after.to_rfc3339(),
                    "daysLeft": i.days_left(now()), "keyType": i.key_type, "isCa": i.is_ca,
                    "names": i.sans.iter().map(|s| &s.value).collect::<Vec<_>>(), "ariId": i.ari_id,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for (index, info) in infos.iter().enumerate() {
            print!("{}", describe(index, info));
        }
    }
    Ok(())
}
