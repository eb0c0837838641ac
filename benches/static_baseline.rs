//! The load script's baseline (benches/load.py): a hyper server with no logic at all, answering
//! every request with the same bytes as `application/json`. Whatever it serves per second is the
//! ceiling this machine allows for a body of that size.
//!
//! Run by the load script as `static_baseline --bind ADDR --body FILE`.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let (mut bind, mut body_file) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next(),
            "--body" => body_file = args.next(),
            _ => {} // `cargo bench` adds `--bench`.
        }
    }
    let bind: SocketAddr = bind.expect("--bind ADDR").parse().expect("an address");
    let body =
        Bytes::from(std::fs::read(body_file.expect("--body FILE")).expect("a readable body file"));
    let listener = TcpListener::bind(bind).await.expect("the address is free");
    println!("listening {}", listener.local_addr().expect("bound"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // As the mock does: without it, a large body's last segment can wait for the client's
        // delayed acknowledgement, and the baseline would be slower than it has to be.
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(body))
                            .expect("a valid response"),
                    )
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
