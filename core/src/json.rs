//! JSON as the engine reads and writes it: a strict RFC 8259 parser into a small tree, typed
//! readers for the fields of the RFC 8555 objects, and a writer for the request bodies.
//!
//! The public types keep their serde derives for hosts; the engine itself goes through this
//! module, because serde_json's generic deserialisers (one copy per type, plus its float
//! formatting for error messages) were a sixth of the WebAssembly component.
//!
//! Reading follows serde's derive semantics for the types in [`crate::wire`]: unknown fields
//! are ignored, a field given twice is an error, a missing `Option` field or `null` is
//! `None`, a missing defaulted field takes its default but an explicit `null` there is an
//! error, and enums accept exactly their lowercase names.

use core::fmt;

use zeroize::Zeroize;

/// Nesting deeper than this is refused (serde_json's limit too): the parser recurses.
const MAX_DEPTH: usize = 128;

/// A parsed JSON value. Strings are wiped when dropped: snapshots carry a private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (checked against the JSON grammar).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: members in order, duplicates kept.
    Object(Vec<(String, Value)>),
}

impl Drop for Value {
    fn drop(&mut self) {
        if let Value::String(s) = self {
            s.zeroize();
        }
    }
}

/// Why JSON could not be read: a short description naming the byte offset or the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonError(String);

impl JsonError {
    /// An error with this message.
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// "expected `what`".
    pub(crate) fn expected(what: &str) -> Self {
        Self(format!("expected {what}"))
    }

    /// The same error, said to be inside field `key`.
    pub(crate) fn in_field(self, key: &str) -> Self {
        Self(format!("{}: {}", key, self.0))
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses one JSON text (surrounding whitespace allowed, nothing else).
pub(crate) fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != input.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

/// The parser's state: the input and the read position.
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    /// An error at the current position.
    fn error(&self, what: &str) -> JsonError {
        JsonError::new(format!("{what} at byte {}", self.pos))
    }

    /// The next byte, if any.
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Skips JSON whitespace.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `literal` or fails.
    fn literal(&mut self, literal: &[u8]) -> Result<(), JsonError> {
        if self.input[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// A value, `depth` containers deep.
    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.skip_whitespace();
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.literal(b"null").map(|()| Value::Null),
            Some(b't') => self.literal(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(open @ (b'[' | b'{')) => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nesting too deep"));
                }
                self.pos += 1;
                if open == b'[' {
                    self.array(depth + 1)
                } else {
                    self.object(depth + 1)
                }
            }
            Some(_) => Err(self.error("expected a value")),
        }
    }

    /// The rest of an array after its `[`.
    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// The rest of an object after its `{`.
    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected `:`"));
            }
            self.pos += 1;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// A number (`-? int frac? exp?`), returned as written.
    fn number(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        // Only ASCII was consumed.
        Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    /// Skips ASCII digits.
    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// A string, from its opening quote; escapes resolved, UTF-8 checked.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // the opening quote
        // The unescaped text is never longer than the raw one: reserve it all, so a secret
        // is never left behind in a reallocated buffer.
        let mut raw_len = 0;
        let mut escaped = false;
        for &b in &self.input[self.pos..] {
            if b == b'"' && !escaped {
                break;
            }
            escaped = b == b'\\' && !escaped;
            raw_len += 1;
        }
        let mut out = Vec::with_capacity(raw_len);
        loop {
            let Some(byte) = self.peek() else {
                out.zeroize();
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    if let Err(e) = self.escape(&mut out) {
                        out.zeroize();
                        return Err(e);
                    }
                }
                0x00..=0x1f => {
                    out.zeroize();
                    return Err(self.error("control character in string"));
                }
                _ => out.push(byte),
            }
        }
        String::from_utf8(out).map_err(|e| {
            let mut bytes = e.into_bytes();
            bytes.zeroize();
            self.error("invalid UTF-8 in string")
        })
    }

    /// One escape sequence after its backslash, appended to `out` as UTF-8.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let Some(byte) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        let simple = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let first = self.hex4()?;
                let code = match first {
                    0xd800..=0xdbff => {
                        if !self.input[self.pos..].starts_with(b"\\u") {
                            return Err(self.error("lone surrogate in string"));
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&second) {
                            return Err(self.error("lone surrogate in string"));
                        }
                        0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                    }
                    0xdc00..=0xdfff => return Err(self.error("lone surrogate in string")),
                    _ => first,
                };
                let c = char::from_u32(code).ok_or_else(|| self.error("invalid escape"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            _ => return Err(self.error("invalid escape")),
        };
        out.push(simple);
        Ok(())
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .input
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("invalid escape"))?;
        let mut value = 0;
        for &d in digits {
            let nibble = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid escape"))?;
            value = value * 16 + nibble;
        }
        self.pos += 4;
        Ok(value)
    }
}

// ---- typed reading ----

/// A type read from JSON with the rules of this module.
pub(crate) trait FromJson: Sized {
    /// Reads `value`.
    fn from_json(value: &Value) -> Result<Self, JsonError>;
}

/// Parses `input` as a `T`.
pub(crate) fn from_slice<T: FromJson>(input: &[u8]) -> Result<T, JsonError> {
    T::from_json(&parse(input)?)
}

/// Reads a `T` (for [`array`] and the field readers).
pub(crate) fn read<T: FromJson>(value: &Value) -> Result<T, JsonError> {
    T::from_json(value)
}

/// The members of an object, read field by field.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a>(&'a [(String, Value)]);

/// `value` as an object. `[]` counts as an empty object: serde's derive reads a struct from
/// an array too, and PHP writes empty objects that way.
pub(crate) fn object(value: &Value) -> Result<Fields<'_>, JsonError> {
    match value {
        Value::Object(members) => Ok(Fields(members)),
        Value::Array(items) if items.is_empty() => Ok(Fields(&[])),
        _ => Err(JsonError::expected("an object")),
    }
}

impl<'a> Fields<'a> {
    /// The value of `key` if present; a key given twice is an error.
    fn get(&self, key: &str) -> Result<Option<&'a Value>, JsonError> {
        let mut found = self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
        match (found.next(), found.next()) {
            (first, None) => Ok(first),
            (Some(_), Some(_)) => Err(JsonError::new(format!("duplicate field `{key}`"))),
            (None, Some(_)) => Ok(None),
        }
    }

    /// A required field.
    pub(crate) fn required<T>(
        &self,
        key: &str,
        read: impl FnOnce(&Value) -> Result<T, JsonError>,
    ) -> Result<T, JsonError> {
        match self.get(key)? {
            Some(value) => read(value).map_err(|e| e.in_field(key)),
            None => Err(JsonError::new(format!("missing field `{key}`"))),
        }
    }

    /// An optional field: absent or `null` is `None`.
    pub(crate) fn optional<T>(
        &self,
        key: &str,
        read: impl FnOnce(&Value) -> Result<T, JsonError>,
    ) -> Result<Option<T>, JsonError> {
        match self.get(key)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => read(value).map(Some).map_err(|e| e.in_field(key)),
        }
    }

    /// A field with a default when absent (an explicit `null` is read like any value).
    pub(crate) fn or_default<T: Default>(
        &self,
        key: &str,
        read: impl FnOnce(&Value) -> Result<T, JsonError>,
    ) -> Result<T, JsonError> {
        match self.get(key)? {
            None => Ok(T::default()),
            Some(value) => read(value).map_err(|e| e.in_field(key)),
        }
    }
}

/// A string value.
pub(crate) fn string(value: &Value) -> Result<String, JsonError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(JsonError::expected("a string")),
    }
}

/// A boolean value.
pub(crate) fn boolean(value: &Value) -> Result<bool, JsonError> {
    match value {
        Value::Bool(b) => Ok(*b),
        _ => Err(JsonError::expected("a boolean")),
    }
}

/// An unsigned integer, written without sign, fraction or exponent and within `T`'s range
/// (serde_json reads anything else as a signed or floating-point number, which an unsigned
/// field refuses).
pub(crate) fn unsigned<T: TryFrom<u64>>(value: &Value) -> Result<T, JsonError> {
    let Value::Number(text) = value else {
        return Err(JsonError::expected("an integer"));
    };
    let n: u64 = text
        .parse()
        .map_err(|_| JsonError::new(format!("expected an unsigned integer, found {text}")))?;
    T::try_from(n).map_err(|_| JsonError::new(format!("{text} is out of range")))
}

/// An array value, each item read with `read`.
pub(crate) fn array<T>(
    value: &Value,
    read: impl Fn(&Value) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| read(item).map_err(|e| JsonError(format!("[{i}]: {}", e.0))))
            .collect(),
        _ => Err(JsonError::expected("an array")),
    }
}

/// An array of strings.
pub(crate) fn strings(value: &Value) -> Result<Vec<String>, JsonError> {
    array(value, string)
}

/// One of an enum's names.
pub(crate) fn one_of<T: Copy>(value: &Value, names: &[(&str, T)]) -> Result<T, JsonError> {
    let Value::String(name) = value else {
        return Err(JsonError::expected("a string"));
    };
    names
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let expected: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            JsonError::new(format!(
                "unknown variant \"{name}\", expected one of {}",
                expected.join(", ")
            ))
        })
}

// ---- writing ----

/// Appends `s` as a JSON string literal (escaping as serde_json does: `"`, `\` and control
/// characters; everything else as is).
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x00'..='\x1f' => {
                out.push_str("\\u00");
                crate::asn1::push_hex(out, &[c as u8]);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON array of already-encoded items.
pub(crate) fn write_array(items: impl IntoIterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

/// A JSON array of strings.
pub(crate) fn write_strings<'s>(items: impl IntoIterator<Item = &'s String>) -> String {
    write_array(items.into_iter().map(|s| {
        let mut out = String::new();
        write_string(&mut out, s);
        out
    }))
}

/// Writes an object member by member, in the order given (compact, like serde_json).
pub(crate) struct ObjectWriter {
    out: String,
}

impl ObjectWriter {
    /// An empty object.
    pub(crate) fn new() -> Self {
        Self {
            out: String::from("{"),
        }
    }

    /// Starts member `key`.
    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_string(&mut self.out, key);
        self.out.push(':');
    }

    /// A string member.
    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_string(&mut self.out, value);
        self
    }

    /// A string member, left out when `None`.
    pub(crate) fn opt_string(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.string(key, value),
            None => self,
        }
    }

    /// A member whose value is already-encoded JSON.
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// A boolean member.
    pub(crate) fn boolean(self, key: &str, value: bool) -> Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// An unsigned integer member.
    pub(crate) fn unsigned(self, key: &str, value: u64) -> Self {
        let mut text = String::new();
        crate::asn1::push_decimal(&mut text, value);
        self.raw(key, &text)
    }

    /// The object's JSON text.
    pub(crate) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether serde_json accepts `text` as a JSON document.
    fn serde_accepts(text: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(text).is_ok()
    }

    /// Our tree as serde_json's, to compare the two parsers.
    fn to_serde(value: &Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::from_str(n).expect("a valid number"),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
            Value::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), to_serde(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_valid_and_invalid_documents() {
        let cases: &[&[u8]] = &[
            b"null",
            b" true ",
            b"false",
            b"0",
            b"-0",
            b"-12.5e+3",
            b"1E9",
            b"\"a\\u00e9\\ud83d\\ude00\\n\\/\"",
            b"[]",
            b"[1, [2, {}], \"x\"]",
            br#"{"a": {"b": [true, null]}, "c": "d"}"#,
            "\"h\u{e9}llo\"".as_bytes(),
            b"",
            b" ",
            b"nul",
            b"01",
            b"1.",
            b".5",
            b"-",
            b"1e",
            b"+1",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{a:1}",
            b"\"\\ud800\"",
            b"\"\\udc00\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"tab\there\"",
            b"\"\xff\"",
            b"\"unterminated",
            b"[1] 2",
            b"{}}",
            b"\xef\xbb\xbf{}",
        ];
        for &case in cases {
            let ours = parse(case);
            assert_eq!(
                ours.is_ok(),
                serde_accepts(case),
                "{:?}: {ours:?}",
                String::from_utf8_lossy(case)
            );
            if let Ok(value) = ours {
                let theirs: serde_json::Value = serde_json::from_slice(case).expect("valid");
                assert_eq!(to_serde(&value), theirs);
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn typed_fields_follow_serde_derive_rules() {
        let doc = parse(br#"{"s":"x","n":null,"b":true,"u":429,"l":["a","b"],"d":1,"d":2}"#)
            .expect("valid");
        let f = object(&doc).expect("object");
        assert_eq!(f.required("s", string), Ok("x".to_owned()));
        assert!(f.required("missing", string).is_err());
        assert!(f.required("n", string).is_err(), "null is not a string");
        assert_eq!(f.optional("n", string), Ok(None));
        assert_eq!(f.optional("missing", string), Ok(None));
        assert_eq!(f.or_default("missing", boolean), Ok(false));
        assert!(f.or_default("n", strings).is_err(), "null is not a default");
        assert_eq!(f.required("b", boolean), Ok(true));
        assert_eq!(f.required("u", unsigned::<u16>), Ok(429));
        assert_eq!(
            f.required("l", strings),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        let err = f.required("d", unsigned::<u8>).expect_err("duplicate");
        assert!(err.to_string().contains("duplicate field `d`"), "{err}");
        for (text, ok) in [
            ("65535", true),
            ("65536", false),
            ("-0", false),
            ("-1", false),
            ("1.0", false),
            ("1e2", false),
            ("18446744073709551616", false),
        ] {
            let v = parse(text.as_bytes()).expect("number");
            assert_eq!(unsigned::<u16>(&v).is_ok(), ok, "{text}");
        }
        let names = [("pending", 1), ("valid", 2)];
        assert_eq!(one_of(&Value::String("valid".into()), &names), Ok(2));
        assert!(one_of(&Value::String("Valid".into()), &names).is_err());
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for s in [
            "plain",
            "quote \" backslash \\ slash /",
            "\n\r\t\x08\x0c\x01\x1f\x7f",
            "é😀",
        ] {
            let mut ours = String::new();
            write_string(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).expect("json"));
        }
        let object = ObjectWriter::new()
            .string("a", "x")
            .opt_string("skipped", None)
            .boolean("b", true)
            .unsigned("n", 18_446_744_073_709_551_615)
            .raw("l", &write_strings(&["p".to_owned(), "q".to_owned()]))
            .finish();
        assert_eq!(
            object,
            r#"{"a":"x","b":true,"n":18446744073709551615,"l":["p","q"]}"#
        );
        assert_eq!(ObjectWriter::new().finish(), "{}");
        assert_eq!(write_array(Vec::new()), "[]");
    }
}
