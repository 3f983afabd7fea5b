//! Checking and normalising the identifiers of an order before anything is sent.

use std::net::IpAddr;

use crate::error::Error;
use crate::wire::{Identifier, IdentifierType};

/// The longest DNS name, without the trailing dot.
const MAX_NAME_LEN: usize = 253;
/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Normalises identifiers (lowercase names, no trailing dot, canonical IP text, no
/// duplicates) or says which one is malformed and why: the check every order's
/// identifiers pass, for hosts that check names earlier (a config file, a handshake).
pub fn normalize(identifiers: &[Identifier]) -> Result<Vec<Identifier>, Error> {
    if identifiers.is_empty() {
        return Err(Error::invalid_input(
            "identifiers",
            "at least one DNS name or IP address",
        ));
    }
    let mut out: Vec<Identifier> = Vec::with_capacity(identifiers.len());
    for id in identifiers {
        let normal = match id.kind {
            IdentifierType::Dns => Identifier::dns(dns_name(&id.value)?),
            IdentifierType::Ip => Identifier::ip(ip_address(&id.value)?),
        };
        if !out.contains(&normal) {
            out.push(normal);
        }
    }
    Ok(out)
}

/// A DNS name in canonical form, or an error naming it.
fn dns_name(raw: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::invalid_input(format!("domain name {raw:?}"), why.to_owned());
    let name = raw.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return Err(bad("a non-empty name such as example.com"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad("at most 253 characters"));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(bad("a DNS name; give IP addresses as IP identifiers"));
    }
    let body = name.strip_prefix("*.").unwrap_or(&name);
    for label in body.split('.') {
        if label.is_empty() {
            return Err(bad(
                "labels separated by single dots (found an empty label)",
            ));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(bad("labels of at most 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("labels that do not start or end with '-'"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(bad(&if c == '*' {
                "a wildcard only as the whole leftmost label (*.example.com)".to_owned()
            } else {
                format!("letters, digits and '-' only (found {c:?}; use punycode for IDNs)")
            }));
        }
    }
    if name.starts_with("*.") && !body.contains('.') {
        return Err(bad(
            "a wildcard below a registered name (*.example.com, not *.com)",
        ));
    }
    Ok(name)
}

/// An IP address in canonical text form, or an error naming it.
fn ip_address(raw: &str) -> Result<String, Error> {
    raw.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| Error::invalid_input(format!("IP address {raw:?}"), "an IPv4 or IPv6 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names_and_addresses() {
        let got = normalize(&[
            Identifier::dns("WWW.Example.COM."),
            Identifier::dns("www.example.com"),
            Identifier::dns("*.example.com"),
            Identifier::ip("2001:DB8::0:1"),
        ])
        .expect("valid");
        assert_eq!(
            got,
            [
                Identifier::dns("www.example.com"),
                Identifier::dns("*.example.com"),
                Identifier::ip("2001:db8::1"),
            ]
        );
    }

    #[test]
    fn rejects_malformed_input_naming_it() {
        for (bad, expected) in [
            (Identifier::dns("exa mple.com"), "letters, digits"),
            (Identifier::dns("a..b"), "empty label"),
            (Identifier::dns("-a.com"), "start or end"),
            (Identifier::dns("a.*.com"), "leftmost"),
            (Identifier::dns("*.com"), "below a registered name"),
            (Identifier::dns("a".repeat(64)), "63"),
            (Identifier::dns("10.0.0.1"), "IP identifiers"),
            (Identifier::ip("300.1.1.1"), "IPv4 or IPv6"),
        ] {
            let err = normalize(core::slice::from_ref(&bad)).expect_err("must be rejected");
            let text = err.to_string();
            assert!(text.contains(&bad.value), "{text} names {bad}");
            assert!(text.contains(expected), "{text} says {expected}");
        }
        assert!(normalize(&[]).is_err());
    }
}
