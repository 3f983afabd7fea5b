//! A Spin HTTP component that misbehaves on purpose, for the tests of `certsmith plugin
//! serve`: `GET /loop` never returns (the host's deadline must end it), `GET
//! /outbound?port=N` tries to call out to `127.0.0.1:N` over HTTP and says what happened
//! (the host must refuse it). Built by
//! `host/tests/e2e_edge.rs`; never shipped.
//!
//! The `#[http_component]` macro's glue converts resource handles with `unsafe`.
#![allow(unsafe_code)]

/// The component (only the WebAssembly build has Spin's imports).
#[cfg(target_arch = "wasm32")]
mod component {
    use spin_sdk::http::{Method, Request, Response};
    use spin_sdk::http_component;

    /// Answers one request.
    #[http_component]
    async fn handle(request: Request) -> Response {
        match request.path() {
            "/loop" => loop {
                std::hint::black_box(());
            },
            "/outbound" => {
                let port = request.query().trim_start_matches("port=");
                let outbound = Request::new(Method::Get, format!("http://127.0.0.1:{port}/"));
                match spin_sdk::http::send::<_, Response>(outbound).await {
                    Ok(response) => Response::new(200, format!("reached: {}", response.status())),
                    Err(e) => Response::new(502, format!("refused: {e}")),
                }
            }
            _ => Response::new(404, "not found"),
        }
    }
}
