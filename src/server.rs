//! The connection loop: what one client may hold of a replica, whatever it sends.
//!
//! `axum::serve` sets no deadline on a connection, so a client that opens sockets and sends
//! nothing (or a header line every few seconds) keeps them for good, until the process runs
//! out of file descriptors and stops accepting anyone. Here each connection is served by
//! hyper directly, with:
//! * `HTTP_HEADER_TIMEOUT_MS`: the request head must arrive within this long. hyper starts
//!   the clock whenever the connection waits for a request head, so it also closes a keep-alive
//!   connection left idle that long (nginx closes its idle upstream connections first);
//! * `HTTP_BODY_TIMEOUT_MS` (a layer in `app.rs`): a body that sends nothing for this long is
//!   cut off with `408 REQUEST_TIMEOUT`;
//! * `HTTP_MAX_CONNECTIONS`: connections this replica serves at once; past it a new connection
//!   is answered `503 OVERLOADED` and closed at once, so the process never reaches its file
//!   limit and a client's sockets never starve the others of `accept`.

use crate::error::ErrorCode;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connections the kernel queues before they are accepted. tokio's default (128 here) is
/// overrun when a load balancer opens a thousand connections at once (an on-sale's first
/// second): the kernel then drops SYNs, the balancer's connect times out, and it marks the
/// replica down. nginx listens with the same backlog; the kernel caps it at somaxconn.
const BACKLOG: i32 = 4096;

/// The listening socket, with [`BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Cancelled when shutdown begins (see `App::run`): the listener closes, open connections
/// are told to close after their response.
pub type Draining = tokio_util::sync::CancellationToken;

/// What bounds one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The request head must arrive within this long (also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// The address of a connection's peer (for `ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Serves `router` on `listener` until `shutdown` completes, then lets every open connection
/// finish its request in flight (idle ones are closed at once) and returns.
pub async fn serve(
    mut listener: ClosableListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // HTTP/1.1 only (what nginx and browsers speak to it): hyper's protocol sniffing for
    // HTTP/2 would wait for a first byte with no deadline at all.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            metrics::counter!("boxoffice_connections_refused_total").increment(1);
            refuse(&stream);
            continue;
        };
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(Peer(peer)));
                req
            });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        metrics::gauge!("boxoffice_connections_open").increment(1.0);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            metrics::gauge!("boxoffice_connections_open").decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A connection over `HTTP_MAX_CONNECTIONS`: a JSON 503 written without reading the request,
/// then closed, all before the next accept, so refused connections never hold descriptors
/// (the answer fits in the socket's send buffer; it is not waited for).
fn refuse(stream: &TcpStream) {
    let body = format!(
        r#"{{"error":{{"code":"{}","message":"this replica serves as many connections as it may (HTTP_MAX_CONNECTIONS): retry shortly"}}}}"#,
        ErrorCode::Overloaded.as_str()
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
}

/// The listening socket, closed (dropped) as soon as draining starts, while the server keeps
/// serving the connections it already has.
pub struct ClosableListener {
    inner: Option<TcpListener>,
    addr: SocketAddr,
    close: Draining,
    /// SOCKET_SEND_BUFFER_BYTES (0: leave it to the OS).
    send_buffer: usize,
}

impl ClosableListener {
    pub fn new(inner: TcpListener, close: Draining, send_buffer: usize) -> io::Result<Self> {
        Ok(Self {
            addr: inner.local_addr()?,
            inner: Some(inner),
            close,
            send_buffer,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Listener for ClosableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        if let Some(inner) = &mut self.inner {
            tokio::select! {
                accepted = Listener::accept(inner) => {
                    if self.send_buffer > 0
                        && let Err(e) =
                            socket2::SockRef::from(&accepted.0).set_send_buffer_size(self.send_buffer)
                    {
                        tracing::warn!(error = %e, "SOCKET_SEND_BUFFER_BYTES not applied");
                    }
                    return accepted;
                }
                () = self.close.cancelled() => {}
            }
        }
        self.inner = None;
        std::future::pending().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
