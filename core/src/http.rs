//! Descriptions of HTTP exchanges: the engine writes requests and reads responses, the host
//! moves the bytes.

use crate::timestamp::Timestamp;

/// An HTTP method the engine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET` (directory, renewal info).
    Get,
    /// `HEAD` (newNonce).
    Head,
    /// `POST` (every JWS-signed request, including POST-as-GET).
    Post,
}

impl Method {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
        }
    }
}

/// A complete HTTP request. The host sends it as is, adding only what its transport needs
/// (TLS, `Host`, `Content-Length`, its `User-Agent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for GET and HEAD).
    pub body: Vec<u8>,
}

/// An HTTP response as the host received it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order; names compare case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `Retry-After` header as an absolute time: delta-seconds or an HTTP-date.
    pub fn retry_after(&self, now: Timestamp) -> Option<Timestamp> {
        let value = self.header("retry-after")?.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(now.plus_millis(secs.saturating_mul(1000)));
        }
        let at = httpdate::parse_http_date(value).ok()?;
        let since_epoch = at.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(Timestamp::from_unix_millis(
            u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        ))
    }

    /// Targets of `Link` headers whose `rel` is `rel`, resolved against nothing (ACME CAs send
    /// absolute URLs).
    pub fn links(&self, rel: &str) -> Vec<String> {
        let mut out = Vec::new();
        for value in self.header_values("link") {
            for link in split_link_header(value) {
                let Some((target, params)) = parse_link(link) else {
                    continue;
                };
                let has_rel = params.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("rel")
                        && v.split_ascii_whitespace()
                            .any(|r| r.eq_ignore_ascii_case(rel))
                });
                if has_rel {
                    out.push(target.to_owned());
                }
            }
        }
        out
    }
}

/// Splits a `Link` header value into its comma-separated links, respecting `<…>` and quotes.
fn split_link_header(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_angle, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            '"' if !in_angle => in_quote = !in_quote,
            ',' if !in_angle && !in_quote => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Parses one link `<target>; k=v; k="v"` into the target and its parameters.
fn parse_link(link: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let link = link.trim();
    let rest = link.strip_prefix('<')?;
    let end = rest.find('>')?;
    let target = &rest[..end];
    let params = rest[end + 1..]
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim(), v.trim().trim_matches('"')))
        })
        .collect();
    Some((target, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = Timestamp::from_unix_secs(1_000);
        assert_eq!(
            response(&[("Retry-After", "30")]).retry_after(now),
            Some(Timestamp::from_unix_secs(1_030))
        );
        let r = response(&[("retry-after", "Thu, 01 Jan 1970 00:20:00 GMT")]);
        assert_eq!(r.retry_after(now), Some(Timestamp::from_unix_secs(1_200)));
        assert_eq!(response(&[("Retry-After", "soon")]).retry_after(now), None);
    }

    #[test]
    fn link_alternates_and_up() {
        let r = response(&[
            (
                "Link",
                r#"<https://ca/cert/1/1>;rel="alternate", <https://ca/dir>;rel="index""#,
            ),
            ("link", "<https://ca/cert/1/2>; rel=alternate"),
            ("Link", r#"<https://ca/x,y>;rel="up""#),
        ]);
        assert_eq!(
            r.links("alternate"),
            ["https://ca/cert/1/1", "https://ca/cert/1/2"]
        );
        assert_eq!(r.links("up"), ["https://ca/x,y"]);
        assert!(r.links("next").is_empty());
    }
}
