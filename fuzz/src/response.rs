//! Fuzz input read as an HTTP response, in a text form a corpus file can be written in:
//!
//! ```text
//! 201
//! Replay-Nonce: abc
//! Location: https://ca.test/acct/1
//!
//! {"status":"valid"}
//! ```
//!
//! The first line is the status, then header lines up to an empty line, then the body
//! (bytes, to the end). Anything malformed still makes a response: the engine must cope.

use certsmith_core::HttpResponse;

/// The response `data` describes. A status that is not a number is 200.
pub fn decode(data: &[u8]) -> HttpResponse {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let status = lines
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(200);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim_start().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_vec(),
    }
}

/// `response` in the form [`decode`] reads (used to write seed corpora from real answers).
pub fn encode(response: &HttpResponse) -> Vec<u8> {
    let mut out = response.status.to_string().into_bytes();
    for (name, value) in &response.headers {
        out.extend_from_slice(format!("\n{name}: {value}").as_bytes());
    }
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(&response.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_gives_the_response_back() {
        let response = HttpResponse {
            status: 201,
            headers: vec![
                ("Replay-Nonce".into(), "n1".into()),
                ("Location".into(), "https://ca.test/acct/1".into()),
            ],
            body: b"{\"status\":\"valid\"}\n\nmore".to_vec(),
        };
        assert_eq!(decode(&encode(&response)), response);
    }
}
