//! A lean HTTP/1.1 keep-alive connection (hyper's client connection, no pool): the load
//! generator shares the machine with the service, so every cycle it spends is one the
//! service does not get.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// Why a request failed: `NotSent` (the server had closed the connection between requests,
/// e.g. after `Connection: close`; reconnecting is all it takes) or `Lost` (sent, no answer).
#[derive(Debug)]
pub enum Failure {
    NotSent,
    Lost(String),
}

/// One answer: status, `X-Instance-Id`, body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Connection {
    /// `base` is `http://host:port`.
    pub async fn open(base: &str) -> Result<Self, String> {
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("{base}: only http:// targets"))?
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host)
            .await
            .map_err(|e| format!("{host}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self { sender, host })
    }

    /// Sends one request, with `authorization` (a bearer token) when given.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        authorization: Option<&str>,
    ) -> Result<Answer, Failure> {
        self.send_with(method, path, body, authorization, None)
            .await
    }

    /// A GET with `If-None-Match: tag`: a conditional re-read.
    pub async fn get_unless(&mut self, path: &str, tag: &str) -> Result<Answer, Failure> {
        self.send_with(Method::GET, path, None, None, Some(("if-none-match", tag)))
            .await
    }

    pub async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        authorization: Option<&str>,
        header: Option<(&str, &str)>,
    ) -> Result<Answer, Failure> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|_| Failure::NotSent)?;
        self.sender.ready().await.map_err(|_| Failure::NotSent)?;
        let lost = |e: hyper::Error| Failure::Lost(e.to_string());
        let response = self.sender.send_request(request).await.map_err(lost)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(lost)?
            .to_bytes();
        Ok(Answer { status, body })
    }
}
