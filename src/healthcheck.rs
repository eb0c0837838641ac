//! The `healthcheck` subcommand: asks a running server on this machine whether it is healthy,
//! for container health checks in an image without a shell or curl.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::test_control::HEALTH_PATH;

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Requests the health endpoint of the server listening on `bind` (an unspecified address
/// means this machine's loopback); `Ok` when it answers 200.
pub fn check(bind: SocketAddr) -> Result<(), String> {
    let addr = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bind.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bind.port())
        }
        _ => bind,
    };
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|err| err.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|err| err.to_string())?;
    write!(
        stream,
        "GET {HEALTH_PATH} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|err| format!("cannot send the request to {addr}: {err}"))?;
    let mut response = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut response)
        .map_err(|err| format!("no answer from {addr}: {err}"))?;
    let status_line = response.split(|&b| b == b'\r').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    if status_line.starts_with("HTTP/1.1 200 ") {
        Ok(())
    } else {
        Err(format!("{addr}{HEALTH_PATH} answered {status_line:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_listening_is_unhealthy() {
        let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = unused.local_addr().unwrap();
        drop(unused);
        assert!(check(addr)
            .unwrap_err()
            .starts_with(&format!("cannot connect to {addr}")));
    }
}
