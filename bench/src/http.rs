//! A minimal HTTP/1.1 client: one keep-alive connection, requests written
//! from bytes prepared in advance, responses read by `Content-Length` or
//! chunked encoding.
//!
//! The load generator shares two cores with the server it measures, so its
//! own cost per request must be as small as it can be: no runtime, no
//! connection pool, no header maps, and large bodies sent from the file
//! with `sendfile`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: its status and, unless streamed elsewhere, its body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Body bytes (empty when the body went to a writer).
    pub body: Vec<u8>,
    /// Length of the body in bytes.
    pub body_len: u64,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection to `addr`, opened on first use and again
/// after the server closed it.
pub struct Connection {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
    /// Requests answered on the current socket.
    reused: u64,
}

impl Connection {
    /// A connection that gives up on any read or write silent for `timeout`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Connection {
            addr,
            timeout,
            stream: None,
            reused: 0,
        }
    }

    fn stream(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, s));
            self.reused = 0;
        }
        Ok(self.stream.as_mut().expect("just opened"))
    }

    /// Sends a whole request (head and body, prepared by [`request_bytes`])
    /// and reads the answer. A keep-alive socket the server had closed is
    /// replaced once, before anything of the answer was read.
    pub fn send(&mut self, request: &[u8]) -> io::Result<Response> {
        let reused = self.stream.is_some() && self.reused > 0;
        match self.try_send(request) {
            Err(e) if reused && is_closed(&e) => {
                self.stream = None;
                self.try_send(request)
            }
            other => other,
        }
    }

    fn try_send(&mut self, request: &[u8]) -> io::Result<Response> {
        let result = (|| {
            let s = self.stream()?;
            s.get_mut().write_all(request)?;
            read_response(s, None)
        })();
        self.after(result)
    }

    /// Sends `head`, then the whole of `file`, then `tail`, and reads the
    /// answer. The file goes from the page cache to the socket through
    /// `sendfile` (std specialises `io::copy` from a `File` to a
    /// `TcpStream`), so the client costs next to nothing.
    pub fn send_file(&mut self, head: &[u8], file: &mut File, tail: &[u8]) -> io::Result<Response> {
        let result = (|| {
            let s = self.stream()?.get_mut();
            s.write_all(head)?;
            io::copy(file, s)?;
            s.write_all(tail)?;
            let s = self.stream.as_mut().expect("open");
            read_response(s, None)
        })();
        self.after(result)
    }

    /// Sends a request and streams the answer's body into `out`.
    pub fn send_to(&mut self, request: &[u8], out: &mut dyn Write) -> io::Result<Response> {
        let result = (|| {
            let s = self.stream()?;
            s.get_mut().write_all(request)?;
            read_response(s, Some(out))
        })();
        self.after(result)
    }

    fn after(&mut self, result: io::Result<(Response, bool)>) -> io::Result<Response> {
        match result {
            Ok((response, keep_alive)) => {
                self.reused += 1;
                if !keep_alive {
                    self.stream = None;
                }
                Ok(response)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// The bytes of a request with a body held in memory.
pub fn request_bytes(
    method: &str,
    path: &str,
    host: &SocketAddr,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = request_head(method, path, host, headers, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// The head of a request whose body of `body_len` bytes follows.
pub fn request_head(
    method: &str,
    path: &str,
    host: &SocketAddr,
    headers: &[(&str, &str)],
    body_len: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if method != "GET" || body_len > 0 {
        let _ = write!(out, "Content-Length: {body_len}\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one response; the body goes to `out` when given. Returns whether
/// the connection may be used again.
fn read_response(
    s: &mut BufReader<TcpStream>,
    out: Option<&mut dyn Write>,
) -> io::Result<(Response, bool)> {
    let mut line = String::new();
    if s.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before an answer",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if s.read_line(&mut line)? == 0 {
            return Err(bad("connection closed inside the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let keep_alive = !find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let chunked = find("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length: Option<u64> = find("content-length").and_then(|v| v.parse().ok());
    let mut body = Vec::new();
    let mut sink: &mut dyn Write = match out {
        Some(w) => w,
        None => &mut body,
    };
    let body_len = if status == 204 || status == 304 {
        // No body, whatever the headers say.
        0
    } else if chunked {
        read_chunked(s, &mut sink)?
    } else if let Some(n) = length {
        let copied = io::copy(&mut s.by_ref().take(n), &mut sink)?;
        if copied != n {
            return Err(bad("connection closed inside the body"));
        }
        n
    } else {
        // No length: the body runs to the end of the connection.
        let n = io::copy(s, &mut sink)?;
        return Ok((
            Response {
                status,
                body,
                body_len: n,
                headers,
            },
            false,
        ));
    };
    Ok((
        Response {
            status,
            body,
            body_len,
            headers,
        },
        keep_alive,
    ))
}

fn read_chunked(s: &mut BufReader<TcpStream>, out: &mut dyn Write) -> io::Result<u64> {
    let mut total = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        s.read_line(&mut line)?;
        let size_text = line.trim_end().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size_text.trim(), 16)
            .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if s.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(total);
                }
            }
        }
        let copied = io::copy(&mut s.by_ref().take(size), out)?;
        if copied != size {
            return Err(bad("connection closed inside a chunk"));
        }
        total += size;
        line.clear();
        s.read_line(&mut line)?;
    }
}
