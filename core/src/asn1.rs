//! A minimal DER reader and writer for the few X.509 / PKCS structures the engine handles:
//! certificates it inspects, the CSRs and TLS-ALPN-01 certificates it builds, and its keys.
//!
//! Generic ASN.1 libraries cost the WebAssembly component a lot of code for structures the
//! engine never sees; this knows single-byte tags and definite lengths (all DER has), and
//! rejects everything else: indefinite or non-minimal lengths, high tag numbers, truncation.

/// Tag numbers (universal class unless noted).
pub(crate) mod tag {
    /// BOOLEAN.
    pub(crate) const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub(crate) const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub(crate) const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub(crate) const OCTET_STRING: u8 = 0x04;
    /// OBJECT IDENTIFIER.
    pub(crate) const OID: u8 = 0x06;
    /// UTF8String.
    pub(crate) const UTF8_STRING: u8 = 0x0c;
    /// PrintableString.
    pub(crate) const PRINTABLE_STRING: u8 = 0x13;
    /// TeletexString (T61String).
    pub(crate) const TELETEX_STRING: u8 = 0x14;
    /// IA5String.
    pub(crate) const IA5_STRING: u8 = 0x16;
    /// UTCTime.
    pub(crate) const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    /// BMPString.
    pub(crate) const BMP_STRING: u8 = 0x1e;
    /// SEQUENCE (constructed).
    pub(crate) const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub(crate) const SET: u8 = 0x31;

    /// Context-specific `[n]`, primitive (IMPLICIT tagging of a primitive type).
    pub(crate) const fn context(n: u8) -> u8 {
        0x80 | n
    }

    /// Context-specific `[n]`, constructed (EXPLICIT tagging, or IMPLICIT of a SEQUENCE).
    pub(crate) const fn context_constructed(n: u8) -> u8 {
        0xa0 | n
    }
}

/// Why DER input was refused (a short, static description for error messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DerError(pub &'static str);

impl core::fmt::Display for DerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Result of a DER read.
pub(crate) type DerResult<T> = Result<T, DerError>;

/// One DER element: its tag, its content octets and its whole encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element<'a> {
    /// The (single-byte) tag.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// Tag, length and content.
    pub raw: &'a [u8],
}

impl<'a> Element<'a> {
    /// A reader over the content of this (constructed) element.
    pub(crate) fn reader(&self) -> Reader<'a> {
        Reader::new(self.content)
    }
}

/// Reads consecutive DER elements from a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next element.
    pub(crate) fn element(&mut self) -> DerResult<Element<'a>> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first().ok_or(DerError("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("unsupported high tag number"));
        }
        // Universal class: only the types X.509 uses, strings primitive (DER), SEQUENCE and
        // SET constructed; the same set RustCrypto's `der` knows.
        if tag & 0xc0 == 0
            && !matches!(
                tag,
                0x01..=0x06 | 0x09 | 0x0a | 0x0c | 0x0d | 0x12..=0x18 | 0x1a | 0x1b | 0x1e | 0x30 | 0x31
            )
        {
            return Err(DerError("unknown universal tag"));
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError("truncated"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return Err(DerError("indefinite or oversized length"));
            }
            let (bytes, rest) = after_len
                .split_at_checked(count)
                .ok_or(DerError("truncated"))?;
            after_len = rest;
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            // DER: the shortest form, without leading zero bytes.
            if len < 0x80 || bytes[0] == 0 {
                return Err(DerError("non-minimal length"));
            }
            len
        };
        let (content, rest) = after_len
            .split_at_checked(len)
            .ok_or(DerError("truncated"))?;
        let header = input.len() - after_len.len();
        self.rest = rest;
        Ok(Element {
            tag,
            content,
            raw: &input[..header + len],
        })
    }

    /// Reads the next element, which must have tag `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> DerResult<Element<'a>> {
        let element = self.element()?;
        if element.tag == tag {
            Ok(element)
        } else {
            Err(DerError("unexpected tag"))
        }
    }

    /// Reads the next element if it has tag `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> DerResult<Option<Element<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.element().map(Some)
        } else {
            Ok(None)
        }
    }

    /// A reader over the content of the next element, which must have tag `tag`.
    pub(crate) fn nested(&mut self, tag: u8) -> DerResult<Reader<'a>> {
        self.expect(tag).map(|e| e.reader())
    }

    /// Fails unless everything has been read.
    pub(crate) fn finish(&self) -> DerResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError("trailing data"))
        }
    }

    /// The content octets of an INTEGER (checked minimal; sign byte kept).
    pub(crate) fn integer(&mut self) -> DerResult<&'a [u8]> {
        let content = self.expect(tag::INTEGER)?.content;
        match content {
            [] => Err(DerError("empty INTEGER")),
            [0x00, next, ..] if next & 0x80 == 0 => Err(DerError("non-minimal INTEGER")),
            [0xff, next, ..] if next & 0x80 != 0 => Err(DerError("non-minimal INTEGER")),
            _ => Ok(content),
        }
    }

    /// A small non-negative INTEGER.
    pub(crate) fn small_uint(&mut self) -> DerResult<u32> {
        let content = self.integer()?;
        if content[0] & 0x80 != 0 || content.len() > 5 {
            return Err(DerError("INTEGER out of range"));
        }
        let value = content
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        u32::try_from(value).map_err(|_| DerError("INTEGER out of range"))
    }

    /// A BOOLEAN (DER: 0x00 or 0xff).
    pub(crate) fn boolean(&mut self) -> DerResult<bool> {
        match self.expect(tag::BOOLEAN)?.content {
            [0x00] => Ok(false),
            [0xff] => Ok(true),
            _ => Err(DerError("invalid BOOLEAN")),
        }
    }

    /// The bytes of a BIT STRING with no unused bits.
    pub(crate) fn bit_string(&mut self) -> DerResult<&'a [u8]> {
        bit_string_bytes(self.expect(tag::BIT_STRING)?.content)
    }

    /// The content octets of an OBJECT IDENTIFIER (checked well-formed).
    pub(crate) fn oid(&mut self) -> DerResult<&'a [u8]> {
        let content = self.expect(tag::OID)?.content;
        check_oid(content)?;
        Ok(content)
    }
}

/// The bytes of a BIT STRING's content whose unused-bits count is zero.
pub(crate) fn bit_string_bytes(content: &[u8]) -> DerResult<&[u8]> {
    match content.split_first() {
        Some((0, bytes)) => Ok(bytes),
        Some(_) => Err(DerError("BIT STRING with unused bits")),
        None => Err(DerError("empty BIT STRING")),
    }
}

/// Checks BIT STRING content: the unused-bits count (0-7, 0 when there are no bits) and the
/// bits.
pub(crate) fn check_bit_string(content: &[u8]) -> DerResult<()> {
    match content {
        [0, ..] => Ok(()),
        [1..=7, _, ..] => Ok(()),
        _ => Err(DerError("malformed BIT STRING")),
    }
}

/// Checks OID content octets: 1 to 39 bytes (what X.509 stacks accept), the first byte
/// holding the two root arcs (0-2 and 0-39), then minimal base-128 arcs of at most 32 bits.
pub(crate) fn check_oid(content: &[u8]) -> DerResult<()> {
    let (&root, arcs) = content
        .split_first()
        .ok_or(DerError("empty OBJECT IDENTIFIER"))?;
    if root >= 120 || content.len() > 39 {
        return Err(DerError("unsupported OBJECT IDENTIFIER"));
    }
    let mut value: u64 = 0;
    let mut arc_start = true;
    for &b in arcs {
        if arc_start && b == 0x80 {
            return Err(DerError("non-minimal OBJECT IDENTIFIER arc"));
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if value > u64::from(u32::MAX) {
            return Err(DerError("OBJECT IDENTIFIER arc too large"));
        }
        arc_start = b & 0x80 == 0;
        if arc_start {
            value = 0;
        }
    }
    if arc_start {
        Ok(())
    } else {
        Err(DerError("truncated OBJECT IDENTIFIER"))
    }
}

/// The dotted-decimal form of well-formed OID content octets (see [`check_oid`]).
pub(crate) fn oid_to_string(content: &[u8]) -> String {
    let mut out = String::new();
    let Some((&root, arcs)) = content.split_first() else {
        return out;
    };
    push_decimal(&mut out, u64::from(root / 40));
    out.push('.');
    push_decimal(&mut out, u64::from(root % 40));
    let mut value: u64 = 0;
    for &b in arcs {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            out.push('.');
            push_decimal(&mut out, value);
            value = 0;
        }
    }
    out
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Appends `bytes` as lowercase hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

// ---- writing ----

/// Appends one element: `tag`, the DER length of `content`, `content`.
pub(crate) fn write(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    write_header(out, tag, content.len());
    out.extend_from_slice(content);
}

/// Appends the tag and DER length of an element whose content is `len` bytes long.
pub(crate) fn write_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// One element as a new vector.
pub(crate) fn element(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write(&mut out, tag, content);
    out
}

/// A SEQUENCE of the already-encoded `parts`.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    element(tag::SEQUENCE, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes (leading zeros dropped, a sign
/// byte added when needed).
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let trimmed = &magnitude[skip..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    element(tag::INTEGER, &content)
}

/// A BIT STRING with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    element(tag::BIT_STRING, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_non_minimal_forms_are_refused() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let content = vec![7u8; len];
            let encoded = element(tag::OCTET_STRING, &content);
            let mut reader = Reader::new(&encoded);
            let e = reader.element().expect("valid");
            assert_eq!(
                (e.tag, e.content.len(), e.raw.len()),
                (4, len, encoded.len())
            );
            reader.finish().expect("all read");
        }
        for bad in [
            &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..],
            &[0x04, 0x82, 0x00, 0x80],
            &[0x04, 0x80, 0x00, 0x00],
            &[0x04, 0x05, 1, 2],
            &[0x1f, 0x01, 0x00],
            &[0x00, 0x00],
            &[0x2c, 0x00],
            &[0x07, 0x00],
            &[0x04],
        ] {
            assert!(Reader::new(bad).element().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integers_and_oids() {
        assert_eq!(unsigned_integer(&[0, 0, 0x80]), [2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0x7f]), [2, 1, 0x7f]);
        assert_eq!(unsigned_integer(&[]), [2, 1, 0]);
        assert!(Reader::new(&[2, 2, 0, 1]).integer().is_err());
        assert_eq!(Reader::new(&[2, 2, 0, 0x80]).integer(), Ok(&[0, 0x80][..]));
        assert_eq!(Reader::new(&[2, 1, 5]).small_uint(), Ok(5));
        // 1.2.840.10045.2.1 and 2.5.4.3
        let ec = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        assert_eq!(check_oid(&ec), Ok(()));
        assert_eq!(oid_to_string(&ec), "1.2.840.10045.2.1");
        assert_eq!(oid_to_string(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            oid_to_string(&[0x2a, 0x8f, 0xff, 0xff, 0xff, 0x7f]),
            "1.2.4294967295"
        );
        assert!(check_oid(&[0x2a, 0x90, 0x80, 0x80, 0x80, 0x00]).is_err());
        assert!(
            check_oid(&[0x88, 0x37, 0x03]).is_err(),
            "2.999 is not supported"
        );
        assert!(check_oid(&[0x2a, 0x86]).is_err());
        assert!(check_oid(&[0x2a, 0x80, 0x01]).is_err());
        assert!(check_oid(&[]).is_err());
        let mut hex = String::new();
        push_hex(&mut hex, &[0x00, 0xab, 0x7f]);
        assert_eq!(hex, "00ab7f");
    }
}
