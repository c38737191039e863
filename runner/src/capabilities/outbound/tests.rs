//! How outbound requests are counted in the metrics.

use super::*;

/// A request that got a response is `allowed`, one Docket refused is
/// `denied`, one that failed on its way (nobody listening) is `error`.
#[tokio::test]
async fn requests_are_counted_by_outcome() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    let closed = {
        let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        unused.local_addr().unwrap().port()
    };
    let client = OutboundClient::new(OutboundSettings {
        allow_private: true,
        ..OutboundSettings::default()
    })
    .unwrap();
    let metrics = Arc::new(Metrics::new(10));
    client.observe(metrics.clone());
    let hosts: Vec<HostPattern> = [open, closed]
        .iter()
        .map(|port| HostPattern::parse(&format!("http://127.0.0.1:{port}")).unwrap())
        .collect();
    let grant = OutboundGrant::new(
        Arc::new(client),
        "acme/fetch".into(),
        hosts.into(),
        Instant::now() + Duration::from_secs(10),
    );
    let get = |url: String| OutboundRequest {
        method: "GET".into(),
        url,
        ..OutboundRequest::default()
    };
    let ok = grant.send(get(format!("http://127.0.0.1:{open}/")), true, false);
    assert_eq!(ok.await.unwrap().body, b"ok");
    let refused = grant.send(get("http://example.com/".into()), true, false);
    assert!(refused.await.is_err());
    let failed = grant.send(get(format!("http://127.0.0.1:{closed}/")), true, false);
    assert!(failed.await.is_err());
    assert!(grant.admit("http://example.org/").is_err());
    let text = metrics.encode();
    for (outcome, n) in [("allowed", 1), ("denied", 2), ("error", 1)] {
        let line = format!("docket_outbound_requests_total{{outcome=\"{outcome}\"}} {n}\n");
        assert!(text.contains(&line), "{line:?} missing from:\n{text}");
    }
}
