//! The state loop: it owns the model, applies events, runs effects, publishes snapshots and
//! answers commands (see `actions.rs`, `doctor.rs`); the state file gets its changes.

use super::*;

/// The longest the loop sleeps towards a model deadline before reading the clock again.
const DEADLINE_RECHECK: Duration = Duration::from_secs(60);

impl StateLoop {
    // One receiver per input the loop selects on, each its own channel.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run(
        &mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
        mut after: mpsc::Receiver<AfterAction>,
        mut opens: mpsc::UnboundedReceiver<notify::OpenRequest>,
        mut updates: mpsc::Receiver<crate::daemon::discovery::Update>,
        mut notices: mpsc::UnboundedReceiver<notify::tmux::Notice>,
        mut remote_events: mpsc::Receiver<RemoteEvent>,
    ) -> ExitCode {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut sigterm, mut sigint) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                log!("cannot watch SIGTERM and SIGINT: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Time passes even with no server to send heartbeats: the model says when a lingering
        // session or a mark is due to drop off, and the loop wakes then (no periodic timer).
        // One timer, set again only when the model changes; at most [`DEADLINE_RECHECK`] ahead,
        // so a wall clock that jumped (a suspend) is noticed within that.
        let mut due: Option<i64> = None;
        let mut due_generation = u64::MAX;
        let alarm = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(alarm);
        loop {
            if self.persist_due {
                // Let the subscribers woken by the last publish write their lines first.
                tokio::task::yield_now().await;
                self.persist();
            }
            self.release_notifications();
            if due_generation != self.state.generation() {
                due_generation = self.state.generation();
                due = self.state.next_deadline();
                if let Some(at) = due {
                    let ms = at.saturating_sub(now_ms()).max(0) as u64 + 1;
                    let wait = Duration::from_millis(ms).min(DEADLINE_RECHECK);
                    alarm.as_mut().reset(tokio::time::Instant::now() + wait);
                }
            }
            tokio::select! {
                biased;
                () = &mut alarm, if due.is_some() => {
                    self.apply(Event::Tick);
                    self.publish();
                    // Due again (a clock that jumped, a deadline far away): recomputed.
                    due_generation = u64::MAX;
                }
                Some(ev) = events.recv() => {
                    self.apply(ev);
                    // Drain what is queued before publishing once.
                    for _ in 0..1024 {
                        match events.try_recv() {
                            Ok(ev) => self.apply(ev),
                            Err(_) => break,
                        }
                    }
                    self.publish();
                }
                Some(ev) = remote_events.recv() => {
                    self.apply_remote(ev);
                    self.publish();
                }
                Some(cmd) = commands.recv() => {
                    self.command(cmd);
                    self.publish();
                    self.send_durable_replies();
                }
                Some(update) = updates.recv() => {
                    self.followed.update(update);
                    for ev in self.followed.reconcile(&mut self.sources) {
                        self.apply(ev);
                    }
                    self.publish();
                }
                Some(done) = after.recv() => {
                    self.apply(done.event);
                    self.publish();
                    self.durable_replies.push((done.reply, Ok(done.text)));
                    self.send_durable_replies();
                }
                Some(n) = notices.recv() => {
                    // The tmux channel's notification: shown in the tmux segment for a while.
                    let until = Instant::now() + Duration::from_millis(n.display_ms.max(1));
                    self.notice = Some((Arc::from(n.text), notice_state(n.kind), until));
                    self.notice_seq += 1;
                    self.publish();
                }
                () = sleep_until_notice_ends(self.notice.as_ref().map(|n| n.2)), if self.notice.is_some() => {
                    self.notice = None;
                    self.notice_seq += 1;
                    self.publish();
                }
                Some(open) = opens.recv() => {
                    // The desktop notification's "Open" action.
                    let (reply, _rx) = oneshot::channel();
                    // A remote machine's session is named with its host (`HOST:ID`).
                    let session = match open.server.remote_host() {
                        Some(host) => format!("{host}:{}", open.session),
                        None => open.session.to_string(),
                    };
                    self.command(Command {
                        action: crate::wire::Action::Open(session),
                        reply,
                    });
                    self.publish();
                    self.send_durable_replies();
                }
                _ = sigint.recv() => {
                    log!("interrupted: shutting down");
                    return ExitCode::SUCCESS;
                }
                _ = sigterm.recv() => {
                    log!("terminated: shutting down");
                    return ExitCode::SUCCESS;
                }
            }
        }
    }

    pub(super) fn apply(&mut self, ev: Event) {
        if self.followed.is_stale(&ev) {
            return; // a late event of a connection stopped because its server went away
        }
        // A resync frees the parsed session list: the heap is trimmed after this wake's publish.
        if matches!(ev, Event::Resync { .. }) {
            self.heap.resynced();
        }
        let effects = self.state.apply(ev, now_ms());
        self.run_effects(effects);
    }

    /// A remote machine's link reported: its notifications go out like this machine's.
    pub(super) fn apply_remote(&mut self, ev: RemoteEvent) {
        let effects = self.remotes.apply(ev, now_ms());
        self.run_effects(effects);
    }

    fn run_effects(&mut self, effects: Vec<Effect>) {
        for fx in effects {
            match fx {
                // Held until the state that holds it is handed to the state file's writer.
                Effect::Notify(n) => self.due_notifications.push(n),
                Effect::FetchSession { ref server, .. }
                | Effect::FetchOutcome { ref server, .. } => {
                    if let Some(h) = self.sources.get(server) {
                        h.execute(&fx);
                    }
                }
            }
        }
    }

    /// Publish what changed, then give freed heap pages back if due: once per wake of the loop
    /// (every branch of `run` ends here), after the subscribers have their snapshot.
    pub(super) fn publish(&mut self) {
        self.publish_if_changed();
        self.heap.maybe_trim(std::time::Instant::now());
    }

    fn publish_if_changed(&mut self) {
        // Both only grow, so their sum changes whenever either does.
        let generation = self.state.generation() + self.remotes.generation();
        if generation == self.published_generation && self.notice_seq == self.published_notice_seq {
            return;
        }
        self.published_generation = generation;
        self.published_notice_seq = self.notice_seq;
        let notice = self.notice.as_ref().map(|(t, s, _)| (t.clone(), *s));
        // Subscribers first (their latency is the budget); the state file's part is taken after
        // they have run (see `persist`).
        let _ = self.snapshots.send(Arc::new(
            Published::new(generation, self.snapshot()).with_notice(notice),
        ));
        self.persist_due = true;
    }

    /// What bars see: this machine's sessions and those of the remote machines.
    pub(super) fn snapshot(&self) -> crate::wire::snapshot::Snapshot {
        let mut snap = self.state.snapshot();
        self.remotes.add_to(&mut snap);
        snap
    }

    /// Hand what the state file keeps to its writer, if it changed since the last time.
    ///
    /// Not part of [`publish`](Self::publish): even the hash that tells whether it changed
    /// reads every remembered session (building it copies a string per field: ~0.3 ms with
    /// 1,000 sessions, done only when the hash changed), and on this one thread the `watch`
    /// subscribers only run once the loop yields. So the loop yields first and calls this after
    /// them; replies that wait for the disk call it at once.
    pub(super) fn persist(&mut self) {
        if !std::mem::take(&mut self.persist_due) {
            return;
        }
        let Some(slot) = &self.save_slot else {
            return;
        };
        let fingerprint = self.state.persisted_fingerprint();
        if self.persisted_fingerprint == Some(fingerprint) {
            return;
        }
        self.persisted_fingerprint = Some(fingerprint);
        self.persisted_seq += 1;
        slot.put(self.persisted_seq, self.state.persisted());
    }

    /// Let the notifications due since the last call go, each with the number of the save that
    /// holds the change that made it due (see `after_save`). Called after `persist`.
    fn release_notifications(&mut self) {
        if self.due_notifications.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut stopped = false;
        for n in self.due_notifications.drain(..) {
            stopped |= match &self.notifier {
                NotifyOut::Direct(tx) => tx.send(n).is_err(),
                NotifyOut::AfterSave(tx) => tx
                    .send(after_save::Held {
                        seq: self.persisted_seq,
                        since: now,
                        notification: n,
                    })
                    .is_err(),
            };
        }
        if stopped {
            log!("the notifier has stopped: a notification was dropped");
        }
    }

    /// Send the replies waiting in `durable_replies` once the state file holds what was
    /// published (at once when nothing new is to be written, or there is no state file; after
    /// [`SAVE_WAIT`] at the latest, when the disk is slow).
    pub(super) fn send_durable_replies(&mut self) {
        if self.durable_replies.is_empty() {
            return;
        }
        self.persist();
        let replies = std::mem::take(&mut self.durable_replies);
        let wanted = self.persisted_seq;
        match self.saved.clone() {
            Some(mut saved) if *saved.borrow() < wanted => {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(SAVE_WAIT, saved.wait_for(|s| *s >= wanted)).await;
                    for (tx, r) in replies {
                        let _ = tx.send(r);
                    }
                });
            }
            _ => {
                for (tx, r) in replies {
                    let _ = tx.send(r);
                }
            }
        }
    }
}
