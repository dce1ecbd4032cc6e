//! The health gate's HTTP client: one GET with a timeout, over plain HTTP (a node's private
//! address) or HTTPS (the service through CloudFront). Built on the hyper stack the AWS SDK
//! already links (hyper, hyper-util, hyper-rustls with the system's roots), so the gate adds
//! no HTTP client of its own.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::ConfigBuilderExt;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Answer, Probe};

/// How much of a body a report quotes.
const BODY_QUOTE: usize = 300;
/// How much of a body is read at all: health answers are small.
const BODY_LIMIT: usize = 64 * 1024;

/// An HTTP and HTTPS client.
pub struct HttpProbe {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HttpProbe {
    /// A client trusting the system's certificate roots.
    pub fn new() -> Result<Self, String> {
        // The provider named, not the process default: the SDK's crates may enable more than
        // one, and then rustls cannot choose. `ring`, as the SDK's client uses (src/aws/mod.rs).
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_native_roots()
            .map_err(|e| format!("loading the system's certificate roots: {e}"))?
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpProbe {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }
}

impl Probe for HttpProbe {
    async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Answer, String> {
        let mut request = Request::get(url).header("user-agent", "ce-release-gate");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad request: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            let body: String = text.chars().take(BODY_QUOTE).collect();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("timed out after {} s", timeout.as_secs_f64()))?
    }
}

/// An error and its causes in one line: hyper's own message is often just "client error".
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-connection server answering `response` to whatever it is sent; returns its URL
    /// and what it was sent.
    async fn serve_once(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/healthcheck", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_500_comes_back_with_its_body_and_the_headers_go_out() {
        let (url, sent) = serve_once(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 14\r\nconnection: close\r\n\r\nno compilers!\n",
        )
        .await;
        let probe = HttpProbe::new().unwrap();
        let answer = probe
            .get(&url, &[("X-CE-Preview", "abc")], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 500);
        assert_eq!(answer.body, "no compilers!\n");
        let request = sent.await.unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("get /healthcheck http/1.1"),
            "{request}"
        );
        assert!(request.contains("x-ce-preview: abc"), "{request}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/healthcheck", listener.local_addr().unwrap());
        let _hold = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let probe = HttpProbe::new().unwrap();
        let err = probe
            .get(&url, &[], Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/healthcheck", listener.local_addr().unwrap());
        drop(listener);
        let probe = HttpProbe::new().unwrap();
        let err = probe
            .get(&url, &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }
}
