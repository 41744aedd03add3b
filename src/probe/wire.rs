//! The probe transport: one short TCP exchange per four-letter word, and a
//! bare HTTP/1.0 GET for the admin server. Bounded by a timeout each.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Transport failures of a probe.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Connect, write or read failed.
    #[error("{addr}: {source}")]
    Io {
        /// The server address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The exchange took longer than allowed.
    #[error("{addr}: no answer within {timeout:?}")]
    Timeout {
        /// The server address.
        addr: SocketAddr,
        /// The bound.
        timeout: Duration,
    },
    /// The admin server answered with a non-200 status.
    #[error("{addr}: admin server answered `{status}`")]
    Http {
        /// The server address.
        addr: SocketAddr,
        /// The status line.
        status: String,
    },
}

const MAX_BODY: usize = 1 << 20;

async fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<String, WireError> {
    let io = |source| WireError::Io { addr, source };
    let work = async {
        let mut s = TcpStream::connect(addr).await.map_err(io)?;
        s.write_all(request).await.map_err(io)?;
        let mut buf = Vec::new();
        (&mut s).take(MAX_BODY as u64).read_to_end(&mut buf).await.map_err(io)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| WireError::Timeout { addr, timeout })?
}

/// Send a four-letter word and return the whole reply.
pub async fn four_letter(addr: SocketAddr, word: &str, timeout: Duration) -> Result<String, WireError> {
    exchange(addr, word.as_bytes(), timeout).await
}

/// GET `path` from an admin server and return the body of a 200 answer.
pub async fn admin_get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<String, WireError> {
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let reply = exchange(addr, req.as_bytes(), timeout).await?;
    http_body(&reply).map(String::from).map_err(|status| WireError::Http { addr, status })
}

/// The body of a raw HTTP/1.x reply with status 200; else its status line.
pub fn http_body(reply: &str) -> Result<&str, String> {
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((reply, ""));
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(status.to_string());
    }
    Ok(body)
}
