//! Distinguished names as RFC 4514 strings, for the attribute types certificates carry.
//!
//! A full OID-name database is ~100 KB of the WebAssembly component; this knows the dozen
//! names WebPKI certificates use and writes any other attribute as `OID=#hex`, as RFC 4514
//! §2.4 allows.

use crate::asn1::{self, Reader, tag};
use crate::oid;

/// Short names of the attribute types WebPKI certificates use.
const SHORT_NAMES: [(&str, &str); 12] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.97", "ORGANIZATIONIDENTIFIER"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "EMAILADDRESS"),
];

/// One AttributeTypeAndValue: the type OID (content octets) and the value element.
type Attribute<'a> = (&'a [u8], asn1::Element<'a>);

/// The RDNs of a Name's content, each a list of its attributes (malformed parts skipped; the
/// certificate reader has already checked the structure).
fn rdns(name_content: &[u8]) -> Vec<Vec<Attribute<'_>>> {
    let mut out = Vec::new();
    let mut reader = Reader::new(name_content);
    while let Ok(mut rdn) = reader.nested(tag::SET) {
        let mut attributes = Vec::new();
        while let Ok(mut atv) = rdn.nested(tag::SEQUENCE) {
            if let (Ok(oid), Ok(value)) = (atv.oid(), atv.element()) {
                attributes.push((oid, value));
            }
        }
        out.push(attributes);
    }
    out
}

/// Whether `bytes` are all PrintableString characters.
fn is_printable(bytes: &[u8]) -> bool {
    bytes.iter().all(|&c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    })
}

/// The text of a string value whose bytes are its characters: PrintableString, UTF8String,
/// IA5String or TeletexString (ASCII only, as the usual decoders read it).
fn narrow_text<'a>(value: &asn1::Element<'a>) -> Option<&'a str> {
    let text = core::str::from_utf8(value.content).ok()?;
    let ok = match value.tag {
        tag::PRINTABLE_STRING => is_printable(value.content),
        tag::UTF8_STRING => true,
        tag::IA5_STRING | tag::TELETEX_STRING => text.is_ascii(),
        _ => false,
    };
    ok.then_some(text)
}

/// The RFC 4514 string of a Name (its SEQUENCE content): RDNs last to first, `+` inside
/// multi-valued RDNs.
pub(crate) fn to_rfc4514(name_content: &[u8]) -> String {
    let mut out = String::new();
    for (i, rdn) in rdns(name_content).into_iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, (oid, value)) in rdn.into_iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = asn1::oid_to_string(oid);
            let short = SHORT_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n);
            match (short, narrow_text(&value)) {
                (Some(key), Some(text)) => {
                    out.push_str(key);
                    out.push('=');
                    escape_into(&mut out, text);
                }
                _ => {
                    out.push_str(&oid);
                    out.push_str("=#");
                    asn1::push_hex(&mut out, value.raw);
                }
            }
        }
    }
    out
}

/// The first commonName of a Name (its SEQUENCE content), if it is a DirectoryString:
/// PrintableString, TeletexString, UTF8String or BMPString.
pub(crate) fn common_name(name_content: &[u8]) -> Option<String> {
    let (_, value) = rdns(name_content)
        .into_iter()
        .flatten()
        .find(|(oid, _)| *oid == oid::COMMON_NAME)?;
    match value.tag {
        tag::BMP_STRING => {
            if value.content.len() % 2 != 0 {
                return None;
            }
            let units = value
                .content
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            // BMP only: a surrogate (paired or not) is not a BMPString character.
            units
                .map(|u| char::from_u32(u32::from(u)))
                .collect::<Option<String>>()
        }
        tag::IA5_STRING => None,
        _ => narrow_text(&value).map(str::to_owned),
    }
}

/// Appends `value` with RFC 4514 §2.4 escaping.
fn escape_into(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => {
                out.push('\\');
                asn1::push_hex(out, &[c as u8]);
            }
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::str::FromStr;
    use x509_cert::der::Encode;

    /// The content of a Name written by x509-cert from its RFC 4514 form.
    fn name_content(rfc4514: &str) -> Vec<u8> {
        let der = x509_cert::name::Name::from_str(rfc4514)
            .expect("name")
            .to_der()
            .expect("der");
        Reader::new(&der)
            .expect(tag::SEQUENCE)
            .expect("a SEQUENCE")
            .content
            .to_vec()
    }

    #[test]
    fn writes_rfc4514_in_reverse_order_with_escapes() {
        assert_eq!(
            to_rfc4514(&name_content("CN=a\\,b,O=Example,C=US")),
            "CN=a\\,b,O=Example,C=US"
        );
        let mut out = String::new();
        escape_into(&mut out, " #x+y \x01");
        assert_eq!(out, "\\ #x\\+y \\01");
    }

    #[test]
    fn multi_valued_rdns_unknown_types_and_common_names() {
        let content = name_content("CN=Example CA+OU=Ops,O=Example,2.5.4.99=#0c0178");
        // DER sorts the SET of a multi-valued RDN: the shorter OU encoding comes first.
        assert_eq!(
            to_rfc4514(&content),
            "OU=Ops+CN=Example CA,O=Example,2.5.4.99=#0c0178"
        );
        assert_eq!(common_name(&content).as_deref(), Some("Example CA"));
        assert_eq!(common_name(&name_content("O=No CN")), None);
        // CN as a BMPString ("Hé") and as an IA5String (not a DirectoryString).
        let bmp = [
            0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x04, 0x00, 0x48, 0x00,
            0xe9,
        ];
        assert_eq!(common_name(&bmp).as_deref(), Some("Hé"));
        let ia5 = [
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x16, 0x01, 0x48,
        ];
        assert_eq!(common_name(&ia5), None);
        assert_eq!(to_rfc4514(&ia5), "CN=H");
    }
}
