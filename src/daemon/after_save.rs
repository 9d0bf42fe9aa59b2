//! Notifications leave once the state that holds them is on disk.
//!
//! A notification is due when a session's turn ends unseen (or it asks, or retries). The state
//! file remembers that turn as finished, so a daemon that restarts and finds the session idle on
//! its server knows it was already told. Sent before that state is saved, a daemon killed in
//! between (`kill -9`, an OOM kill, a crash) comes back with the session still running, finds it
//! idle, and notifies a second time. So the state loop hands each notification here with the
//! number of the save that holds it, and this task passes it on to the notifier once the state
//! file's writer reports that save finished (or failed: it reports those too), in order, and
//! after [`SAVE_WAIT`] at the latest, so a stuck disk delays a notification but never drops it.
//!
//! A save is one small file and two `fsync`s: milliseconds, inside the notifier's own summary
//! window (1.5 s by default) that groups what finishes together.

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::SAVE_WAIT;
use crate::model::effect::Notification;

/// A notification waiting for the save numbered `seq`.
#[derive(Debug)]
pub struct Held {
    /// The state handed to the writer with (or after) the change that made it due.
    pub seq: u64,
    /// When the state loop let it go: it waits [`SAVE_WAIT`] from here at most.
    pub since: Instant,
    pub notification: Notification,
}

/// Pass each notification to `notifier` once `saved` reports its save done, in the order they
/// came (ends when either side is gone).
pub async fn release_after_save(
    mut held: mpsc::UnboundedReceiver<Held>,
    mut saved: watch::Receiver<u64>,
    notifier: mpsc::UnboundedSender<Notification>,
) {
    while let Some(h) = held.recv().await {
        if *saved.borrow() < h.seq {
            // A writer that stopped (the sender dropped) ends the wait like a finished save.
            let _ =
                tokio::time::timeout_at(h.since + SAVE_WAIT, saved.wait_for(|s| *s >= h.seq)).await;
        }
        if notifier.send(h.notification).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::effect::NotifyKind;
    use std::time::Duration;

    fn hold(seq: u64, session: &str) -> Held {
        Held {
            seq,
            since: Instant::now(),
            notification: Notification::sample(NotifyKind::Done, session, session),
        }
    }

    /// The gate running, the last finished save `saved`: its input, the writer's report, its
    /// output.
    fn gate(
        saved: u64,
    ) -> (
        mpsc::UnboundedSender<Held>,
        watch::Sender<u64>,
        mpsc::UnboundedReceiver<Notification>,
    ) {
        let (held_tx, held_rx) = mpsc::unbounded_channel();
        let (saved_tx, saved_rx) = watch::channel(saved);
        let (out_tx, out) = mpsc::unbounded_channel();
        tokio::spawn(release_after_save(held_rx, saved_rx, out_tx));
        (held_tx, saved_tx, out)
    }

    /// Nothing leaves before its save is reported; then each in order, a later one only after
    /// the one before it.
    #[tokio::test(start_paused = true)]
    async fn a_notification_waits_for_its_save_and_keeps_its_order() {
        let (held_tx, saved_tx, mut out) = gate(1);

        held_tx.send(hold(1, "already saved")).unwrap();
        held_tx.send(hold(2, "a")).unwrap();
        held_tx.send(hold(3, "b")).unwrap();
        let first = out.recv().await.unwrap();
        assert_eq!(&*first.session, "already saved");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(out.try_recv().is_err(), "left before its save");

        // Save 3 finishes first (the writer saves the newest state only): both leave, in order.
        saved_tx.send_replace(3);
        assert_eq!(&*out.recv().await.unwrap().session, "a");
        assert_eq!(&*out.recv().await.unwrap().session, "b");
    }

    /// A disk that never finishes delays a notification by `SAVE_WAIT`, never more, and never
    /// drops it; a writer that is gone lets it go at once.
    #[tokio::test(start_paused = true)]
    async fn a_stuck_or_gone_writer_delays_but_never_drops() {
        let (held_tx, saved_tx, mut out) = gate(0);

        let start = Instant::now();
        held_tx.send(hold(1, "stuck")).unwrap();
        held_tx.send(hold(1, "stuck too")).unwrap();
        assert_eq!(&*out.recv().await.unwrap().session, "stuck");
        assert_eq!(start.elapsed(), SAVE_WAIT);
        // The second was handed over at the same time: its wait has run out as well.
        assert_eq!(&*out.recv().await.unwrap().session, "stuck too");
        assert_eq!(start.elapsed(), SAVE_WAIT);

        drop(saved_tx);
        let gone = Instant::now();
        held_tx.send(hold(2, "writer gone")).unwrap();
        assert_eq!(&*out.recv().await.unwrap().session, "writer gone");
        assert_eq!(gone.elapsed(), Duration::ZERO);
    }
}
