//! The benchmark baseline for `certsmith plugin serve`: a minimal native hyper handler that
//! answers `GET /.well-known/acme-challenge/<token>` from the same file store
//! (`<state>/http01/<token>`, read per request, as the plugin's store does).
//!
//! usage: cargo run --release -p certsmith --example http01_native -- STATE_DIR ADDR:PORT

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The answer to a request path.
fn answer(root: &std::path::Path, path: &str) -> Response<Full<Bytes>> {
    let token = path
        .strip_prefix("/.well-known/acme-challenge/")
        .filter(|t| {
            (1..=128).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let body = token.and_then(|t| std::fs::read(root.join("http01").join(t)).ok());
    let mut response = match body {
        Some(body) => Response::new(Full::new(Bytes::from(body))),
        None => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: http01_native STATE_DIR ADDR:PORT");
        std::process::exit(2);
    };
    let root = Arc::new(PathBuf::from(root));
    let addr: SocketAddr = addr.parse().map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let root = Arc::clone(&root);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = answer(&root, request.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
