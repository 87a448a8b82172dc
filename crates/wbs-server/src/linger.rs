//! Lingering close: an error answered before the request body was read
//! reaches the client.
//!
//! When the server refuses an upload part-way (413 for an object over the
//! limit, 507 for a full disk, 422 for a part that is not age), it answers
//! and closes the connection while the client is still sending. Closing a
//! TCP socket with unread data in its receive buffer makes the kernel send
//! a reset, and a reset makes the client's kernel throw away the answer it
//! had not read yet: the reporter then sees "connection reset" instead of
//! "file too large" or "server full". So, as web servers do, the connection
//! first sends its FIN (the answer is complete), then reads and discards
//! what the client still sends, for at most [`LINGER_TIME`] and
//! [`LINGER_BYTES`], and only then closes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The longest a closing connection keeps reading.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// The most a closing connection reads and discards.
pub const LINGER_BYTES: u64 = 32 << 20;

/// A connection that lingers when it is shut down; see the module doc.
pub struct Lingering<T> {
    inner: T,
    state: State,
}

enum State {
    Open,
    Draining {
        deadline: Pin<Box<Sleep>>,
        left: u64,
    },
    Closed,
}

impl<T> Lingering<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Lingering {
            inner,
            state: State::Open,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lingering<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Open => {
                    // Send the FIN: the client knows the answer is complete.
                    std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    this.state = State::Draining {
                        deadline: Box::pin(tokio::time::sleep_until(Instant::now() + LINGER_TIME)),
                        left: LINGER_BYTES,
                    };
                }
                State::Draining { deadline, left } => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.state = State::Closed;
                        continue;
                    }
                    let mut scratch = [0u8; 16 * 1024];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                        Poll::Pending => return Poll::Pending,
                        // The client closed its side, or the connection
                        // broke: nothing more to wait for.
                        Poll::Ready(Err(_)) => this.state = State::Closed,
                        Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                            this.state = State::Closed
                        }
                        Poll::Ready(Ok(())) => {
                            *left = left.saturating_sub(buf.filled().len() as u64);
                            if *left == 0 {
                                this.state = State::Closed;
                            }
                        }
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn shutdown_sends_fin_then_drains_until_the_peer_closes() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut server = Lingering::new(server);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        server.write_all(b"HTTP/1.1 413 \r\n\r\n").await.unwrap();
        let shutdown = tokio::spawn(async move {
            server.shutdown().await.unwrap();
        });
        // The client sees the whole answer and the end of the stream...
        let mut answer = Vec::new();
        client_read.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"HTTP/1.1 413 \r\n\r\n");
        // ...while it still sends; the server keeps reading until it stops.
        for _ in 0..64 {
            client_write.write_all(&[0u8; 16 * 1024]).await.unwrap();
        }
        assert!(!shutdown.is_finished());
        drop(client_write);
        drop(client_read);
        tokio::time::timeout(Duration::from_secs(2), shutdown)
            .await
            .expect("shutdown ends once the peer closed")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_stops_is_cut_after_the_linger_time() {
        let (client, server) = tokio::io::duplex(1024);
        let mut server = Lingering::new(server);
        let start = Instant::now();
        let shutdown = tokio::spawn(async move { server.shutdown().await });
        // The client neither reads nor closes.
        tokio::time::sleep(LINGER_TIME + Duration::from_millis(10)).await;
        assert!(shutdown.is_finished());
        shutdown.await.unwrap().unwrap();
        assert!(start.elapsed() >= LINGER_TIME);
        drop(client);
    }
}
