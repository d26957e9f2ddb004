//! The server's TCP framing (RFC 1035 4.2.2, RFC 7766): a byte stream as a
//! client sends it, read by `runtime::read_framed`, the function each TCP
//! connection of a worker reads its messages with, looped as the
//! connection loops (the first message, length and body, within the read
//! timeout, later ones within the idle timeout).
//!
//! The stream arrives in pieces the input chooses, with waits between
//! them, and ends either with the client closing or with it going silent
//! (the timeout then ends the connection; the clock is tokio's paused
//! test clock, so no real time passes).
//!
//! Input: the first byte is the mode (bit 0: the stream ends silent rather
//! than closed; bits 1-7 seed the piece sizes), the rest is the stream.
//!
//! Asserted: nothing panics; every message read is exactly the bytes its
//! length prefix announces, at the place the previous message ended; the
//! reader stops only when what is left cannot make a whole message (or
//! the stream is silent/closed before the next prefix); it never reads
//! past the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};

/// CoreDNS's defaults: the first message within 3 s, later ones within 10 s.
const READ: Duration = Duration::from_secs(3);
const IDLE: Duration = Duration::from_secs(10);

/// A client: `data` in pieces; between pieces, sometimes a wait (the task
/// is woken again at once). At the end, EOF or silence.
struct Client<'a> {
    data: &'a [u8],
    pos: usize,
    seed: u32,
    silent_end: bool,
}

impl Client<'_> {
    fn next_rand(&mut self) -> u32 {
        // xorshift32
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }
}

impl AsyncRead for Client<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos >= self.data.len() {
            if self.silent_end {
                // Never woken: only the timeout ends this wait.
                return Poll::Pending;
            }
            return Poll::Ready(Ok(()));
        }
        let r = self.next_rand();
        if r & 7 == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // Pieces of 1 to 64 bytes mostly, sometimes up to everything.
        let want = if r & 0x100 != 0 {
            self.data.len() - self.pos
        } else {
            1 + ((r >> 3) & 63) as usize
        };
        let n = want.min(buf.remaining()).min(self.data.len() - self.pos);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    /// Reused across connections without clearing, as a worker does.
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, stream)) = input.split_first() else {
        return;
    };
    let mut client = Client {
        data: stream,
        pos: 0,
        seed: 0x9E37_79B9 ^ u32::from(mode >> 1),
        silent_end: mode & 1 != 0,
    };
    let frames = RT.with(|rt| {
        BUF.with_borrow_mut(|buf| {
            rt.block_on(async {
                let mut frames: Vec<Vec<u8>> = Vec::new();
                let mut wait = READ;
                while ferrodns::runtime::read_framed(&mut client, buf, wait).await {
                    frames.push(buf.clone());
                    wait = IDLE;
                }
                frames
            })
        })
    });
    assert!(client.pos <= stream.len(), "read past the stream");

    // Every message is the one its prefix announces, back to back.
    let mut off = 0;
    for f in &frames {
        let len = usize::from(u16::from_be_bytes([stream[off], stream[off + 1]]));
        assert_eq!(f.len(), len, "message length is not its prefix");
        assert_eq!(
            f.as_slice(),
            &stream[off + 2..off + 2 + len],
            "message bytes are not the stream's"
        );
        off += 2 + len;
    }
    // It stopped because no whole message was left.
    let left = &stream[off..];
    if left.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([left[0], left[1]]));
        assert!(
            left.len() < 2 + len,
            "stopped with a whole message of {len} bytes left"
        );
    }
});
