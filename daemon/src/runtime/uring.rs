//! UDP through io_uring (`sys::uring`): one ring per socket, a multishot
//! RecvMsg reading into a ring of provided buffers, replies sent with
//! SendMsg. The ring is set up SINGLE_ISSUER + DEFER_TASKRUN (completions
//! are only processed when this thread asks); a datagram arriving on the
//! socket wakes the worker, so replies that wait on upstreams run on the
//! same thread.

use super::mmsg::Batch;
use super::worker::{report_dropped, CloseOutbox, Outbox, Slot};
use super::{spawn_later, unmap, Handled, InFlight, Packet, PacketHandler};
use crate::sys::uring::UdpRing;
use crate::sys::SysError;
use io_uring::IoUring;
use std::cell::RefCell;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::rc::Rc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub use crate::sys::uring::ring;

/// The longest an idle worker waits before looking at the ring again.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Serves one UDP socket until its listener closes; then answers the
/// datagrams the ring and the socket hold and returns. Fields drop in
/// order: the ring before the buffers it points at.
pub async fn udp_loop<H: PacketHandler>(
    slot: &Slot,
    sock: UdpSocket,
    ring: IoUring,
    handler: Rc<RefCell<H>>,
    in_flight: InFlight,
) {
    let local = sock
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    if let Err(e) = serve(slot, &sock, local, ring, &handler, &in_flight).await {
        crate::log::error(None, &format!("udp {local} (io_uring): {e}"));
    }
}

/// What one socket's loop works with.
struct Loop<'a, H> {
    slot: &'a Slot,
    local: SocketAddr,
    handler: &'a Rc<RefCell<H>>,
    in_flight: &'a InFlight,
    outbox: Rc<Outbox>,
    wake: Rc<AsyncFd<UdpSocket>>,
}

async fn serve<H: PacketHandler>(
    slot: &Slot,
    sock: &UdpSocket,
    local: SocketAddr,
    ring: IoUring,
    handler: &Rc<RefCell<H>>,
    in_flight: &InFlight,
) -> Result<(), SysError> {
    // With DEFER_TASKRUN the ring's own descriptor does not signal work
    // waiting for this thread; a datagram arriving on the socket does, and
    // the next enter runs the receive it completes.
    let dup = sock.try_clone().map_err(|source| SysError {
        call: "dup",
        source,
    })?;
    // SAFETY: the AsyncFd owns this duplicate of the socket's descriptor.
    let wake = Rc::new(
        unsafe { AsyncFd::register_with_interest(dup, Interest::READABLE) }.map_err(|e| {
            SysError {
                call: "epoll_ctl",
                source: e.into(),
            }
        })?,
    );
    // The outbox sends on the duplicate descriptor and keeps it open (and
    // what the socket holds at the end is read through it).
    let outbox = Outbox::new(Rc::clone(&wake) as Rc<dyn std::os::fd::AsFd>);
    // Sends what is left in the outbox when this loop is dropped (aborted).
    let _close = CloseOutbox(Rc::clone(&outbox));
    let mut ring = UdpRing::new(ring, sock.as_fd())?;
    let l = Loop {
        slot,
        local,
        handler,
        in_flight,
        outbox,
        wake,
    };
    let mut out = Vec::with_capacity(4096);
    loop {
        let closing = slot.is_closing();
        if closing {
            // The receive is cancelled; once its last completion and every
            // send are in, what is left in the socket is read with recvmmsg.
            ring.cancel()?;
            if !ring.armed() && ring.sending() == 0 {
                break;
            }
        } else {
            // Too many replies waiting on upstreams: take datagrams on once
            // some are done (meanwhile the provided buffers fill and the
            // socket buffer holds the rest).
            in_flight.room(&l.outbox).await;
            ring.arm()?;
        }
        // Submit what is queued and run the deferred completions; closing,
        // wait for the cancellation and the sends.
        ring.enter(closing)?;
        let at = std::time::Instant::now();
        l.outbox.set_bound(slot.reply_bound());
        let got = ring.complete(&mut out, |data, src, out| l.answer(data, src, at, out))?;
        l.outbox.count_dropped(ring.take_failed());
        l.outbox.flush();
        report_dropped(&l.outbox, slot.index(), handler);
        if got == 0 && ring.armed() && !closing {
            l.idle().await?;
        } else if got > 0 && !closing {
            // Let the worker's other tasks run between rounds.
            tokio::task::yield_now().await;
        }
    }
    Batch::new(local, l.outbox).answer_held(slot, handler, in_flight);
    Ok(())
}

impl<H: PacketHandler> Loop<'_, H> {
    /// One datagram: true when `out` holds the reply to send now; a reply
    /// that waits on upstreams goes to the outbox when it is ready.
    fn answer(
        &self,
        data: &[u8],
        src: SocketAddr,
        at: std::time::Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let src = unmap(src);
        let p = Packet {
            listener: self.slot.index(),
            data,
            src,
            local: self.local,
            tcp: false,
            at,
            backlogged: self.outbox.full(),
        };
        let handled = self.handler.borrow_mut().handle(&p, out);
        match handled {
            Handled::Reply => true,
            Handled::Drop => false,
            Handled::Later(reply) => {
                let outbox = Rc::clone(&self.outbox);
                spawn_later(self.in_flight, async move {
                    if let Some(r) = reply.await {
                        outbox.push(r, src);
                    }
                });
                false
            }
        }
    }

    /// Nothing to do: sleeps until a datagram arrives or a reply that
    /// waited is ready. A receive the kernel completed without a new
    /// arrival to wake us (the socket was already readable when the request
    /// was re-armed) is picked up by the next enter, at the latest 10 ms
    /// later.
    async fn idle(&self) -> Result<(), SysError> {
        tokio::select! {
            r = tokio::time::timeout(IDLE_POLL, self.wake.readable()) => {
                if let Ok(guard) = r {
                    guard.map_err(|source| SysError { call: "epoll_wait", source })?.clear_ready();
                }
            }
            _ = self.outbox.pushed() => {}
            _ = self.slot.closing() => {}
        }
        Ok(())
    }
}
