//! One open stream, followed until it ends: the loop that waits for the next wake-up (a read,
//! the resync's end, the watchdog's alarm) and hands each to its named step
//! ([`steps`](super::steps)).

use std::time::Instant;

use super::super::api::{ApiError, Resynced};
use super::super::protocol::Protocol;
use super::super::reader::{EventBody, open_event_stream};
use super::steps::{AliveThrottle, FrameDecoder, Holding, Item, Watchdog, check_version};
use super::{AbortOnDrop, Conn, End, human};
use crate::daemon::clock::now_ms;
use crate::model::event::{Event, ResyncReport};

/// What happened on one open stream so far.
struct StreamState {
    /// `Event::Connected` was sent.
    announced: bool,
    /// A resync succeeded.
    resynced: bool,
}

/// What the stream loop woke up for.
enum Wake {
    Resynced(Result<Result<Resynced, ApiError>, tokio::task::JoinError>),
    /// `Ok(true)`: more of the body was read (to drain); `Ok(false)`: the body ended.
    Read(Result<bool, String>),
    /// The watchdog's timer fired (the stream may or may not be starved: see [`Watchdog`]).
    Alarm,
}

/// Why the loop stopped: the stream's end reason, or `Closed` when the events channel is gone.
enum Stop {
    Ended(String),
    Closed,
}

impl From<String> for Stop {
    fn from(reason: String) -> Stop {
        Stop::Ended(reason)
    }
}

/// A running resync; aborted when dropped (a resync must not outlive its stream).
type ResyncTask = AbortOnDrop<Result<Resynced, ApiError>>;

impl Conn {
    /// Which protocol this connection attempt speaks, asked of the server at every
    /// (re)connect ([`Api::identify`](super::super::api::Api::identify)): the process behind a
    /// URL may have been replaced by another OpenCode. Shared with the effect fetches through
    /// the `Api`, and shown by `doctor`.
    async fn protocol(&mut self) -> Result<Protocol, ApiError> {
        let id = tokio::time::timeout(self.config.request_timeout * 3, self.api.identify())
            .await
            .unwrap_or(Err(ApiError::Timeout))?;
        if id.protocol != self.protocol || self.stats.view().protocol.is_none() {
            crate::log!(
                "{} is {}{}",
                self.api.display_url(),
                id.protocol.name(),
                id.version
                    .as_deref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default()
            );
        }
        self.api.set_protocol(id.protocol);
        self.config.protocols.set(self.api.server(), id.protocol);
        self.stats.set_protocol(id.protocol.name());
        if let Some(v) = &id.version {
            self.stats.set_version(v);
        }
        Ok(id.protocol)
    }

    /// Open the stream and follow it until it ends.
    pub(super) async fn follow(&mut self, streak: &mut Option<String>) -> End {
        self.protocol = match self.protocol().await {
            Ok(p) => p,
            Err(e) => return End::Failed(e),
        };
        let body = match open_event_stream(
            &self.api,
            self.protocol.event_path(),
            self.config.connect_timeout,
            self.config.request_timeout,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return End::Failed(e),
        };
        let opened = Instant::now();
        self.stats.opened(now_ms());
        let mut state = StreamState {
            announced: false,
            resynced: false,
        };
        match self.stream(body, &mut state, streak).await {
            Stop::Closed => End::ChannelClosed,
            Stop::Ended(reason) => End::Lost {
                reason,
                healthy: state.resynced && opened.elapsed() >= self.config.healthy_after,
                announced: state.announced,
            },
        }
    }

    /// Read frames until the stream ends.
    async fn stream(
        &mut self,
        body: EventBody,
        state: &mut StreamState,
        streak: &mut Option<String>,
    ) -> Stop {
        match self.steps(body, state, streak).await {
            Ok(never) => match never {},
            Err(stop) => stop,
        }
    }

    /// The loop of [`Conn::stream`]: each wake-up handed to its step.
    async fn steps(
        &mut self,
        mut body: EventBody,
        state: &mut StreamState,
        streak: &mut Option<String>,
    ) -> Result<std::convert::Infallible, Stop> {
        let mut decoder = FrameDecoder::new(
            self.protocol,
            self.api.server().clone(),
            self.api.display_url(),
            self.stats.clone(),
            self.config.max_frame_bytes,
        );
        let mut items: Vec<Item> = Vec::new();
        let mut holding = Holding::new(self.config.max_held_events);
        let mut resync: Option<ResyncTask> = None;
        let mut watchdog = Watchdog::new(self.config.watchdog, Instant::now());
        let mut alive = AliveThrottle::new(self.config.alive_interval);
        // The watchdog is one timer, armed lazily: a frame only moves the watchdog's deadline,
        // and when the timer fires before it, it is set again for then. A timer set and
        // cancelled around every read would cost each coalesced read two timer-wheel updates
        // (the reads of a token stream are the daemon's hot path).
        let alarm = tokio::time::sleep_until(watchdog.deadline().into());
        tokio::pin!(alarm);

        loop {
            let wake = tokio::select! {
                biased;
                done = async {
                    match resync.as_mut() {
                        Some(task) => (&mut task.0).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Resynced(done),
                r = body.fill() => Wake::Read(r),
                () = &mut alarm => Wake::Alarm,
            };
            match wake {
                Wake::Alarm => {
                    if Instant::now() < watchdog.deadline() {
                        alarm.as_mut().reset(watchdog.deadline().into());
                        continue;
                    }
                    return Err(starved(state.announced, &watchdog).into());
                }
                Wake::Resynced(done) => {
                    resync = None;
                    let resynced = match resync_result(done) {
                        Ok(r) => r,
                        Err(reason) => {
                            self.stats.resync_failed(&reason);
                            return Err(format!("resync failed: {reason}").into());
                        }
                    };
                    let version = resynced.version.clone();
                    if let Some(v) = &version {
                        self.stats.set_version(v);
                    }
                    check_version(version.as_deref())?;
                    watchdog
                        .heartbeat_interval(self.protocol.heartbeat_interval(version.as_deref()));
                    // A shorter watchdog than the one armed takes effect now, not at the old end.
                    alarm.as_mut().reset(watchdog.deadline().into());
                    let report = self.note_resync(resynced);
                    if !state.resynced {
                        state.resynced = true;
                        // The end of a failure streak, or the first connection: say so once.
                        if streak.take().is_some() || self.stats.view().resyncs <= 1 {
                            crate::log!(
                                "connected to {} {} at {}",
                                self.protocol.name(),
                                version.as_deref().unwrap_or("(unknown version)"),
                                self.api.display_url()
                            );
                        }
                    }
                    // The report, then what arrived meanwhile, in order.
                    let server = self.api.server().clone();
                    self.emit(Event::Resync { server, report }).await?;
                    for e in holding.release() {
                        self.emit(e).await?;
                    }
                    continue;
                }
                Wake::Read(Ok(false)) => {
                    return Err("stream closed by the server".to_owned().into());
                }
                Wake::Read(Err(e)) => return Err(format!("stream broken: {e}").into()),
                Wake::Read(Ok(true)) => {}
            }

            let seen_dirs = &mut self.seen_dirs;
            body.drain(|piece| decoder.push(piece, seen_dirs, &mut items))
                .map_err(|e| format!("stream broken: {e}"))?;
            if decoder.counted(now_ms()) == 0 {
                continue;
            }
            let now = Instant::now();
            watchdog.frame(now);
            for item in items.drain(..) {
                match item {
                    Item::Connected => {
                        state.announced = true;
                        let server = self.api.server().clone();
                        self.emit(Event::Connected { server }).await?;
                        // (A second `server.connected` restarts the resync; events held so far
                        // stay held and are sent after the new report.)
                        resync = Some(self.start_resync());
                    }
                    Item::Event(e) if resync.is_some() => holding.hold(e)?,
                    Item::Event(e) => self.emit(e).await?,
                    Item::Tick => {
                        watchdog.heartbeat(now);
                        self.emit(Event::Tick).await?;
                    }
                }
            }
            if alive.due(now) {
                let server = self.api.server().clone();
                self.emit(Event::Alive { server }).await?;
            }
        }
    }

    /// Send an event to the daemon; `Err(Stop::Closed)` when the daemon is gone.
    async fn emit(&self, e: Event) -> Result<(), Stop> {
        if self.send(e).await {
            Ok(())
        } else {
            Err(Stop::Closed)
        }
    }

    /// Record a successful resync (stats, log) and return the model's part of it.
    fn note_resync(&self, r: Resynced) -> ResyncReport {
        self.stats.resynced(now_ms(), r.directories.len());
        if let Some(v) = &r.version {
            self.stats.set_version(v);
        }
        for (what, e) in &r.skipped {
            crate::log!("resync of {}: left out {what}: {e}", self.api.display_url());
        }
        r.report
    }

    fn start_resync(&self) -> ResyncTask {
        let api = self.api.clone();
        let dirs = self.seen_dirs.clone();
        let timeout = self.config.resync_timeout;
        let settle = self.config.resync_settle;
        let protocol = self.protocol;
        AbortOnDrop(tokio::spawn(async move {
            // OpenCode 1.18.33 writes `server.connected` before the stream's bus subscription is
            // live: events of the next ~100 ms can be lost (tests/fixtures/README.md, finding 1).
            // Reading the state after that window makes the resync cover whatever was lost.
            tokio::time::sleep(settle).await;
            tokio::time::timeout(timeout, protocol.resync(&api, &dirs, now_ms()))
                .await
                .unwrap_or(Err(ApiError::Timeout))
        }))
    }
}

/// The resync task's result, or why it failed.
fn resync_result(
    done: Result<Result<Resynced, ApiError>, tokio::task::JoinError>,
) -> Result<Resynced, String> {
    match done {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the resync task failed".to_owned()),
    }
}

/// The end reason of a stream the watchdog found starved.
fn starved(announced: bool, watchdog: &Watchdog) -> String {
    let limit = human(watchdog.limit());
    if announced {
        format!("no data from the server for {limit}")
    } else {
        // OpenCode 1.0.98 and older open the stream and never write to it.
        format!(
            "the event stream sent nothing for {limit}, not even server.connected: OpenCode older than the oldest supported ({}) does that; upgrade OpenCode",
            super::super::version::OLDEST_SUPPORTED
        )
    }
}
