//! Connected dashboards, as load: websocket connections to the dashboard's live stream that read
//! everything the server pushes (and send nothing, like the page). A hand-made handshake keeps the
//! bench free of a websocket library; the frames are not parsed, only their bytes counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::ADMIN_TOKEN;

/// Opens `count` live streams as the admin; each drains its socket until the process ends. Returns
/// the bytes all of them have received so far (a running total).
pub async fn connect(port: u16, count: usize) -> anyhow::Result<Arc<AtomicU64>> {
    let received = Arc::new(AtomicU64::new(0));
    for n in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(
                format!(
                    "GET /dashboard/api/live HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                )
                .as_bytes(),
            )
            .await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            anyhow::ensure!(
                stream.read(&mut byte).await? == 1,
                "dashboard {n}: closed during the handshake"
            );
            head.push(byte[0]);
        }
        anyhow::ensure!(
            head.starts_with(b"HTTP/1.1 101"),
            "dashboard {n}: {}",
            String::from_utf8_lossy(&head)
        );
        let received = received.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 1 << 16];
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                received.fetch_add(read as u64, Ordering::Relaxed);
            }
        });
    }
    Ok(received)
}
