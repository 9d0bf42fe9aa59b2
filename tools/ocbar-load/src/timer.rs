//! The floors' two tools: a periodic kernel timer read blocking, and the calling thread's own
//! CPU time. Both floors (a bare wake-up, a bare reader of the stream) wake on the same kind of
//! timer as the daemon's coalescing socket, so their figures compare with the daemon's.

use std::io::ErrorKind;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A periodic `timerfd`, read blocking.
pub struct Timer(OwnedFd);

impl Timer {
    /// A timer that expires every `period` from now on.
    pub fn every(period: Duration) -> Result<Timer, String> {
        // SAFETY: timerfd_create has no memory preconditions; a non-negative result is ours.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(format!(
                "timerfd_create: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let ts = libc::timespec {
            tv_sec: period.as_secs() as libc::time_t,
            tv_nsec: period.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts,
            it_value: ts,
        };
        // SAFETY: arming our own timerfd with a live itimerspec.
        if unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(format!(
                "timerfd_settime: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Timer(fd))
    }

    /// Block until the next expiration.
    pub fn wait(&self) -> Result<(), String> {
        loop {
            let mut n = [0u8; 8];
            // SAFETY: a blocking read of 8 bytes into our own buffer from our own timerfd.
            let r = unsafe { libc::read(self.0.as_raw_fd(), n.as_mut_ptr().cast(), 8) };
            if r == 8 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != ErrorKind::Interrupted {
                return Err(format!("timerfd read: {e}"));
            }
        }
    }
}

/// The calling thread's CPU time so far, in nanoseconds (its schedstat; 0 if unreadable).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
