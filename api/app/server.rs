//! The HTTP server: actix-http's HTTP/1.1 service behind a guard of request heads.
//!
//! actix-http parses a request head in its codec, below every middleware, and answers
//! what it cannot parse itself, without a body: a request line whose target is longer
//! than `http::Uri` takes (65,534 bytes) is a bare `400`, a head over its 128 KiB read
//! buffer (`h1::decoder::MAX_BUFFER_SIZE`, a constant) or with more than 96 fields a bare
//! `431`. Neither is configurable (actix-web 4.18's `HttpServer` and actix-http 3.20's
//! `HttpServiceBuilder` have no such setting; their `on_connect` hooks see the socket,
//! not the bytes). So the service serves through [`HeadGuard`], a layer between the
//! socket and actix that holds each request head until it is complete and answers
//! one over the limits with an RFC 9457 problem of its own:
//!
//! - a request line over [`MAX_REQUEST_LINE`] bytes: `414 uri-too-long`;
//! - a header section over [`MAX_HEADER_SECTION`] bytes or with more than
//!   [`MAX_HEADER_FIELDS`] fields: `431 header-fields-too-large`;
//!
//! then closes the connection. Everything else passes through untouched. The guard
//! follows `Content-Length` bodies to find the next head of a persistent connection; after
//! a chunked body or an upgrade it lets the rest of the connection through unguarded
//! (actix's own limits still apply there).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_http::HttpService;
use actix_service::{ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::web;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::core::error::{ApiError, ProblemType};
use crate::core::i18n::{Lang, text};
use crate::state::AppState;

/// The longest request line (method, target and version, without its CRLF), in bytes.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// The longest header section (every field line with its CRLF), in bytes.
pub const MAX_HEADER_SECTION: usize = 64 * 1024;
/// The most header fields a request may have (actix-http's own limit).
pub const MAX_HEADER_FIELDS: usize = 96;

/// Where the server listens.
pub enum Listen {
    /// Bind this address (backlog 1024, as actix-web's `HttpServer`).
    Addr(SocketAddr),
    /// A socket bound already (tests bind port 0 and read the port).
    Listener(TcpListener),
}

/// How the server runs.
pub struct ServerOptions {
    pub workers: usize,
    /// Seconds in-flight requests get at a graceful shutdown.
    pub shutdown_timeout: u64,
    /// Whether SIGTERM/SIGINT stop the server (off in tests).
    pub os_signals: bool,
}

/// The service on `listen`: one [`crate::app::app`] per worker, each with the state
/// `state` makes (per worker, so each has its own pool), behind the [`HeadGuard`].
pub fn server<F>(
    listen: Listen,
    options: ServerOptions,
    state: F,
) -> io::Result<actix_server::Server>
where
    F: Fn() -> web::Data<AppState> + Send + Clone + 'static,
{
    let mut builder = actix_server::Server::build()
        .workers(options.workers)
        .shutdown_timeout(options.shutdown_timeout);
    if !options.os_signals {
        builder = builder.disable_signals();
    }
    let shutdown = builder.graceful_shutdown_signal();
    let factory = move || {
        let shutdown = shutdown.clone();
        let app = crate::app::app(state());
        let service = HttpService::build()
            .graceful_shutdown_signal(move || {
                let signal = shutdown.clone();
                async move { signal.notified().await }
            })
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1(map_config(app, |_| AppConfig::default()));
        fn_service(|io: TcpStream| async move {
            let peer = io.peer_addr().ok();
            let _ = io.set_nodelay(true);
            Ok::<_, actix_http::error::DispatchError>((HeadGuard::new(io), peer))
        })
        .and_then(service)
    };
    match listen {
        Listen::Addr(addr) => builder.bind("ogsms", addr, factory),
        Listen::Listener(listener) => builder.listen("ogsms", listener, factory),
    }
    .map(|b| b.run())
}

/// What the head read so far is.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Not complete and within the limits: read on.
    Partial,
    /// Complete, `len` bytes long; then a body of this framing.
    Complete(usize, Framing),
    /// Over a limit: the problem to answer.
    TooLarge(ProblemType),
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Framing {
    /// A body of this many bytes (0: none), then the next head.
    Length(u64),
    /// Chunked, an upgrade, or a head actix will refuse: the rest passes unguarded.
    Unknown,
}

/// Reads the head at the start of `buf` (after any empty lines, which RFC 9112 §2.2 lets
/// a server skip) against the limits.
fn classify(buf: &[u8]) -> Head {
    let start = buf
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(buf.len());
    let line_len = match memchr(b'\n', &buf[start..]) {
        None if buf.len() - start > MAX_REQUEST_LINE => {
            return Head::TooLarge(ProblemType::UriTooLong);
        }
        None => return Head::Partial,
        Some(i) => i,
    };
    let line = trim_cr(&buf[start..start + line_len]);
    if line.len() > MAX_REQUEST_LINE {
        return Head::TooLarge(ProblemType::UriTooLong);
    }
    let fields_start = start + line_len + 1;
    let mut pos = fields_start;
    let mut fields = 0;
    let mut length: Option<u64> = None;
    let mut unknown = line.starts_with(b"CONNECT ");
    loop {
        let Some(i) = memchr(b'\n', &buf[pos..]) else {
            return if buf.len() - fields_start > MAX_HEADER_SECTION {
                Head::TooLarge(ProblemType::HeaderFieldsTooLarge)
            } else {
                Head::Partial
            };
        };
        let field = trim_cr(&buf[pos..pos + i]);
        pos += i + 1;
        if field.is_empty() {
            break;
        }
        fields += 1;
        if fields > MAX_HEADER_FIELDS || pos - fields_start > MAX_HEADER_SECTION {
            return Head::TooLarge(ProblemType::HeaderFieldsTooLarge);
        }
        let Some(colon) = memchr(b':', field) else {
            unknown = true;
            continue;
        };
        let (name, value) = (&field[..colon], field[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                Some(n) if length.is_none_or(|l| l == n) => length = Some(n),
                _ => unknown = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"upgrade")
        {
            unknown = true;
        }
    }
    let framing = if unknown {
        Framing::Unknown
    } else {
        Framing::Length(length.unwrap_or(0))
    };
    Head::Complete(pos, framing)
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The caller's language from an `Accept-Language` field among the bytes read, if any
/// (the head is not complete, so nothing is parsed but that line).
fn language(buf: &[u8]) -> Lang {
    for line in buf.split(|b| *b == b'\n') {
        let line = trim_cr(line);
        let Some(colon) = memchr(b':', line) else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"accept-language") {
            let value = String::from_utf8_lossy(&line[colon + 1..]).to_ascii_lowercase();
            let value = value.trim_start();
            return if value.starts_with("es") {
                Lang::Es
            } else {
                Lang::En
            };
        }
    }
    Lang::En
}

/// The complete HTTP/1.1 response for a head over the limits.
fn rejection(kind: ProblemType, lang: Lang) -> Vec<u8> {
    let (line, fields) = (MAX_REQUEST_LINE, MAX_HEADER_SECTION);
    let count = MAX_HEADER_FIELDS;
    let detail = match kind {
        ProblemType::UriTooLong => text!(
            "The request line is longer than {line} bytes.",
            "La línea de solicitud supera los {line} bytes."
        ),
        _ => text!(
            "The header fields are larger than {fields} bytes, or more than {count}.",
            "Los campos de cabecera superan los {fields} bytes, o son más de {count}."
        ),
    };
    let error = ApiError::new(kind, detail);
    let body = serde_json::to_vec(&error.problem(lang, None, None)).expect("problem serializes");
    let status = kind.status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\n\
         content-language: {}\r\ncache-control: no-store\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        lang.tag(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// What the guard is doing with the bytes from the socket.
enum State {
    /// Reading a request head.
    Head,
    /// Passing this many more body bytes, then a head.
    Body(u64),
    /// Passing everything.
    Through,
    /// Writing this problem response from `written`, then half-closing.
    Reject(Vec<u8>, usize),
    /// Reading and dropping what the client still sends (so that closing does not
    /// reset the connection before it read the problem), then the end.
    Drain(usize),
    /// The end of the stream for actix.
    Done,
}

/// How much of an over-long request is read and dropped after the answer.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// A socket whose request heads are checked against the limits before actix reads them.
pub struct HeadGuard<S> {
    io: S,
    /// Read from the socket, not yet handed to actix.
    buf: BytesMut,
    /// Checked, to be handed to actix.
    out: BytesMut,
    state: State,
}

impl<S> HeadGuard<S> {
    pub fn new(io: S) -> Self {
        HeadGuard {
            io,
            buf: BytesMut::new(),
            out: BytesMut::new(),
            state: State::Head,
        }
    }
}

/// Reads what `io` has into `buf`; `Ok(0)` at its end.
fn fill<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let mut chunk = [0u8; 16 * 1024];
    let mut read = ReadBuf::new(&mut chunk);
    ready!(Pin::new(io).poll_read(cx, &mut read))?;
    buf.extend_from_slice(read.filled());
    Poll::Ready(Ok(read.filled().len()))
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.out.is_empty() {
                let n = this.out.len().min(dst.remaining());
                dst.put_slice(&this.out[..n]);
                this.out.advance(n);
                return Poll::Ready(Ok(()));
            }
            match &mut this.state {
                State::Head => match classify(&this.buf) {
                    Head::Complete(len, framing) => {
                        this.out = this.buf.split_to(len);
                        this.state = match framing {
                            Framing::Length(0) => State::Head,
                            Framing::Length(n) => State::Body(n),
                            Framing::Unknown => State::Through,
                        };
                    }
                    Head::TooLarge(kind) => {
                        let response = rejection(kind, language(&this.buf));
                        this.buf.clear();
                        this.state = State::Reject(response, 0);
                    }
                    Head::Partial => {
                        if ready!(fill(&mut this.io, &mut this.buf, cx))? == 0 {
                            // The end: what was read goes to actix, which answers it.
                            this.out = this.buf.split();
                            this.state = State::Done;
                        }
                    }
                },
                State::Body(left) => {
                    if this.buf.is_empty() && ready!(fill(&mut this.io, &mut this.buf, cx))? == 0 {
                        this.state = State::Done;
                        continue;
                    }
                    let n = (this.buf.len() as u64).min(*left);
                    this.out = this.buf.split_to(n as usize);
                    *left -= n;
                    if *left == 0 {
                        this.state = State::Head;
                    }
                }
                State::Through => {
                    if !this.buf.is_empty() {
                        this.out = this.buf.split();
                        continue;
                    }
                    return Pin::new(&mut this.io).poll_read(cx, dst);
                }
                State::Reject(response, written) => {
                    while *written < response.len() {
                        let n =
                            ready!(Pin::new(&mut this.io).poll_write(cx, &response[*written..]))?;
                        if n == 0 {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                        }
                        *written += n;
                    }
                    ready!(Pin::new(&mut this.io).poll_flush(cx))?;
                    ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                    this.state = State::Drain(0);
                }
                State::Drain(dropped) => {
                    let n = ready!(fill(&mut this.io, &mut this.buf, cx))?;
                    *dropped += n;
                    this.buf.clear();
                    if n == 0 || *dropped > DRAIN_LIMIT {
                        this.state = State::Done;
                    }
                }
                State::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(line: &str, fields: &[String]) -> Vec<u8> {
        let mut h = format!("{line}\r\n");
        for f in fields {
            h.push_str(f);
            h.push_str("\r\n");
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    #[test]
    fn heads_within_the_limits_pass_with_their_framing() {
        let h = head("GET /v1/offices HTTP/1.1", &["Host: x".into()]);
        assert_eq!(classify(&h), Head::Complete(h.len(), Framing::Length(0)));
        assert_eq!(classify(&h[..h.len() - 1]), Head::Partial);
        let mut h = head(
            "POST /v1/offices HTTP/1.1",
            &["Content-Length: 12".into(), "content-length: 12".into()],
        );
        let len = h.len();
        h.extend_from_slice(b"{\"a\": 1}    GET");
        assert_eq!(classify(&h), Head::Complete(len, Framing::Length(12)));
        let h = head("POST / HTTP/1.1", &["Transfer-Encoding: chunked".into()]);
        assert_eq!(classify(&h), Head::Complete(h.len(), Framing::Unknown));
        let h = head("POST / HTTP/1.1", &["Content-Length: 1, 2".into()]);
        assert_eq!(classify(&h), Head::Complete(h.len(), Framing::Unknown));
        // Empty lines before a request line are skipped.
        let mut h = b"\r\n".to_vec();
        h.extend(head("GET / HTTP/1.1", &[]));
        assert_eq!(classify(&h), Head::Complete(h.len(), Framing::Length(0)));
    }

    #[test]
    fn a_long_request_line_is_a_414_and_long_fields_a_431() {
        let target = "a".repeat(MAX_REQUEST_LINE);
        let long = format!("GET /{target} HTTP/1.1");
        assert_eq!(
            classify(long.as_bytes()),
            Head::TooLarge(ProblemType::UriTooLong)
        );
        let fits = format!("GET /{} HTTP/1.1", &target[..MAX_REQUEST_LINE - 14]);
        assert_eq!(fits.len(), MAX_REQUEST_LINE);
        let h = head(&fits, &[]);
        assert_eq!(classify(&h), Head::Complete(h.len(), Framing::Length(0)));
        let big = format!("X-Big: {}", "b".repeat(MAX_HEADER_SECTION));
        assert_eq!(
            classify(&head("GET / HTTP/1.1", std::slice::from_ref(&big))),
            Head::TooLarge(ProblemType::HeaderFieldsTooLarge)
        );
        // Before the section is complete too.
        assert_eq!(
            classify(format!("GET / HTTP/1.1\r\n{big}").as_bytes()),
            Head::TooLarge(ProblemType::HeaderFieldsTooLarge)
        );
        let many: Vec<String> = (0..=MAX_HEADER_FIELDS)
            .map(|i| format!("X-{i}: 1"))
            .collect();
        assert_eq!(
            classify(&head("GET / HTTP/1.1", &many)),
            Head::TooLarge(ProblemType::HeaderFieldsTooLarge)
        );
        assert!(matches!(
            classify(&head("GET / HTTP/1.1", &many[1..])),
            Head::Complete(..)
        ));
    }

    #[test]
    fn the_problem_is_a_complete_response_in_the_callers_language() {
        let r = String::from_utf8(rejection(ProblemType::HeaderFieldsTooLarge, Lang::Es)).unwrap();
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let p: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(p["type"], "/problems/header-fields-too-large");
        assert_eq!(p["status"], 431);
        assert!(p["detail"].as_str().unwrap().starts_with("Los campos"));
        assert_eq!(
            language(b"GET / HTTP/1.1\r\nAccept-Language: es-PE\r\nX: "),
            Lang::Es
        );
        assert_eq!(language(b"GET / HTTP/1.1\r\n"), Lang::En);
    }
}
