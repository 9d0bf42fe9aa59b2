//! Server slots: bound how many OpenCode servers run at once on this machine (an flock per slot).

use std::fs::{self, File};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) struct Slot(Option<File>);

impl Slot {
    pub(crate) fn acquire() -> Slot {
        let max: usize = std::env::var("OCBAR_TEST_MAX_SERVERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3)
            .max(1);
        let dir = std::env::temp_dir().join("ocbar-test-slots");
        let _ = fs::create_dir_all(&dir);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            for i in 0..max {
                let Ok(f) = File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(dir.join(format!("slot-{i}")))
                else {
                    return Slot(None);
                };
                use std::os::fd::AsRawFd;
                if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                    return Slot(Some(f)); // the lock goes with the file descriptor
                }
            }
            if Instant::now() >= deadline {
                eprintln!("common: no free OpenCode slot after 180 s, starting anyway");
                return Slot(None);
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}
