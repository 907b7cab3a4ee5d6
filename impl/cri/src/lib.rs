//! A client for the Kubernetes Container Runtime Interface (CRI v1) over a
//! unix socket. The message types and the two service clients are generated
//! by tonic/prost from `proto/cri.proto`, podchain's own subset of the CRI
//! protocol (the calls and fields the kubelet uses, with upstream's names and
//! numbers, so any CRI runtime understands it).

#[allow(clippy::all)]
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}

use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};
pub use v1::image_service_client::ImageServiceClient;
pub use v1::runtime_service_client::RuntimeServiceClient;

/// The CRI API version this client speaks (the `version` of VersionRequest).
pub const CRI_API_VERSION: &str = "v1";
/// How long connecting to the runtime's socket may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest any one CRI call may take (upstream's kubelet uses 2 min for
/// most calls; image pulls get longer there, and here nothing is pulled from
/// a registry).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest CRI response accepted (upstream's kubelet allows 16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The default endpoint, as upstream's kubelet's `--container-runtime-endpoint`.
pub const DEFAULT_ENDPOINT: &str = "unix:///run/containerd/containerd.sock";

/// Both CRI services over one connection.
#[derive(Clone)]
pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

/// The socket path of an endpoint: `unix:///path` or a plain path.
pub fn socket_path(endpoint: &str) -> Result<String, String> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Err(format!("container runtime endpoint {endpoint:?}: expected unix:///absolute/path (only unix sockets are supported)"))
    }
}

/// Connects to the runtime at `endpoint` (e.g. `unix:///run/containerd/containerd.sock`).
pub async fn connect(endpoint: &str) -> Result<Cri, String> {
    let path = socket_path(endpoint)?;
    // tonic wants a URI; the connector below ignores it and dials the socket.
    let ep = Endpoint::from_static("http://cri.invalid").connect_timeout(CONNECT_TIMEOUT).timeout(CALL_TIMEOUT);
    let dial_path = path.clone();
    let channel = ep
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let p = dial_path.clone();
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(p).await?)) }
        }))
        .await
        .map_err(|e| format!("connecting to the container runtime at {path}: {e}"))?;
    Ok(Cri {
        runtime: RuntimeServiceClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES),
        images: ImageServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES),
    })
}

/// A CRI error as one line: the gRPC code and the runtime's message.
pub fn describe(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    use bytes::Bytes;
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    use prost::Message;

    /// A gRPC server on a unix socket that answers every call with `reply`
    /// (one length-prefixed message, then grpc-status 0), as a runtime would.
    async fn runtime_answering(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<()>) {
        let dir = std::env::temp_dir().join(format!("cri-test-{}-{}", std::process::id(), reply.len()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("cri.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |_req| {
                let mut framed = vec![0u8];
                framed.extend_from_slice(&(reply.len() as u32).to_be_bytes());
                framed.extend_from_slice(&reply);
                let mut trailers = hyper::HeaderMap::new();
                trailers.insert("grpc-status", "0".parse().unwrap());
                let frames = vec![Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(framed))), Ok(Frame::trailers(trailers))];
                let body = StreamBody::new(Frames(frames.into_iter()));
                async move { Ok::<_, std::convert::Infallible>(hyper::Response::builder().header("content-type", "application/grpc").body(body).unwrap()) }
            });
            let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new()).serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await;
        });
        (format!("unix://{}", sock.display()), task)
    }

    /// The frames of a response body, one after the other.
    struct Frames(std::vec::IntoIter<Result<Frame<Bytes>, std::convert::Infallible>>);

    impl futures_core::Stream for Frames {
        type Item = Result<Frame<Bytes>, std::convert::Infallible>;
        fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }

    /// A VersionResponse whose encoding is exactly `len` bytes.
    fn version_reply(len: usize) -> Vec<u8> {
        let mut name = String::new();
        loop {
            let m = v1::VersionResponse { runtime_name: name.clone(), ..Default::default() };
            match m.encoded_len().cmp(&len) {
                std::cmp::Ordering::Equal => return m.encode_to_vec(),
                std::cmp::Ordering::Less => name.push_str(&"x".repeat((len - m.encoded_len()).max(1))),
                std::cmp::Ordering::Greater => name.pop().map(|_| ()).expect("lengths are reachable"),
            }
        }
    }

    /// The largest response the runtime may send is `MAX_MESSAGE_BYTES`.
    #[tokio::test]
    async fn responses_are_bounded_at_max_message_bytes() {
        let call = |reply: Vec<u8>| async move {
            let (endpoint, _server) = runtime_answering(reply).await;
            let mut cri = connect(&endpoint).await.unwrap();
            cri.runtime.version(v1::VersionRequest { version: CRI_API_VERSION.into() }).await
        };
        let at = call(version_reply(MAX_MESSAGE_BYTES)).await.expect("a reply at the bound is read");
        assert_eq!(at.into_inner().encoded_len(), MAX_MESSAGE_BYTES);
        let e = call(version_reply(MAX_MESSAGE_BYTES + 1)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::OutOfRange, "{}", describe(&e));
    }

    #[test]
    fn endpoints_must_be_unix_sockets() {
        assert_eq!(socket_path("unix:///run/c.sock").unwrap(), "/run/c.sock");
        assert_eq!(socket_path("/run/c.sock").unwrap(), "/run/c.sock");
        assert!(socket_path("tcp://127.0.0.1:1").unwrap_err().contains("unix sockets"));
        assert!(socket_path("relative.sock").is_err());
    }
}
