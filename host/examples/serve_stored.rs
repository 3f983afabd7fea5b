//! Your own HTTPS server, serving the certificates certsmith keeps in its store: a
//! `CertResolver` for rustls, fed from the store at start and again whenever a lineage
//! changes there (renewed by `certsmith run` on another machine, by `certsmith renew` from
//! cron, or rolled back), with hyper answering behind tokio-rustls.
//!
//! ```sh
//! cargo run --release -p certsmith --example serve_stored -- \
//!   /var/lib/certsmith localhost-14000-dir 127.0.0.1:8443 a.example.test b.example.test
//! ```
//!
//! Arguments: the state directory (the file store), the CA's name in the store
//! (`certs/<ca>/`), where to listen, and the lineages to serve (each by its first name).

use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use certsmith::storage::{StorageSpec, Store};
use certsmith::tls::CertResolver;
use certsmith::tls::feed::{self, Refreshed, Wanted};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Serves `wanted` from `store` into `resolver` once, saying what changed.
async fn refresh(store: &Store, ca: &str, resolver: &CertResolver, wanted: &[Wanted]) {
    match feed::refresh(store, ca, resolver, wanted).await {
        Ok(results) => {
            for (wanted, result) in wanted.iter().zip(results) {
                match result {
                    Refreshed::Installed(served) => {
                        eprintln!("{}: serving {}", wanted.name, served.serial);
                    }
                    Refreshed::Refused(why) => {
                        eprintln!("{}: kept the last one: {why}", wanted.name)
                    }
                    Refreshed::Unchanged => {}
                }
            }
        }
        Err(e) => eprintln!("cannot read the store: {e}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: serve_stored STATE_DIR CA LISTEN NAME...";
    let state_dir = PathBuf::from(args.next().ok_or(usage)?);
    let ca = args.next().ok_or(usage)?;
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let wanted: Vec<Wanted> = args
        .map(|name| Wanted {
            name: name.clone(),
            names: vec![name],
        })
        .collect();

    let store = Store::open(&StorageSpec::Files, &state_dir).await?;
    let resolver = Arc::new(CertResolver::new());
    refresh(&store, &ca, &resolver, &wanted).await;
    // Serve each change the store reports (the watch ends when `_watch` is dropped).
    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let _watch = store.watch_lineages(&ca, changed)?;
    let feeding = Arc::clone(&resolver);
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            while changes.try_recv().is_ok() {}
            refresh(&store, &ca, &feeding, &wanted).await;
        }
    });

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("listening on https://{listen}");
    loop {
        let (stream, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(|_request| async {
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from("hello\n"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
