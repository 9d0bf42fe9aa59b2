//! A virtual X server of a test's own (`Xvfb -displayfd`), for the X11 bars (polybar, i3bar)
//! and the pictures taken from them, and a guard that kills a child on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::{require_tool, spawn_owned};

/// `Xvfb` on the first free display, `width`x`height`x24; killed on drop.
pub struct Display {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub name: String,
    pub width: usize,
}

impl Display {
    pub fn start(width: usize, height: usize) -> Display {
        let mut cmd = Command::new(require_tool("Xvfb"));
        cmd.args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0"])
            .arg(format!("{width}x{height}x24"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = spawn_owned(cmd).expect("start Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("Xvfb stdout"))
            .read_line(&mut line)
            .expect("Xvfb's display number");
        let n: u32 = line.trim().parse().expect("Xvfb wrote its display number");
        let d = Display {
            child,
            name: format!(":{n}"),
            width,
        };
        // A client connects before anything else is started (polybar gives up at once on an X
        // connection error, seen under load right after Xvfb said its number).
        let ready = crate::common::wait_until(crate::common::secs(20), || {
            Command::new(require_tool("xdotool"))
                .arg("getdisplaygeometry")
                .env("DISPLAY", &d.name)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(ready, "no X client could connect to Xvfb {}", d.name);
        d
    }

    /// The whole screen as RGB bytes, row by row (ImageMagick's `import`).
    pub fn grab(&self) -> Vec<u8> {
        let out = Command::new(require_tool("import"))
            .args(["-window", "root", "-depth", "8", "rgb:-"])
            .env("DISPLAY", &self.name)
            .output()
            .expect("run import");
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// `geometry` (`WxH+X+Y`) of the screen as a PNG at `path`.
    pub fn png(&self, geometry: &str, path: &Path) {
        let st = Command::new(require_tool("import"))
            .args(["-window", "root", "-crop", geometry])
            .arg(path)
            .env("DISPLAY", &self.name)
            .status()
            .expect("run import");
        assert!(st.success(), "import -crop {geometry} {}", path.display());
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child ended when the guard goes: SIGTERM first, so it ends what it started itself (polybar
/// puts each script in a process group of its own, which a SIGKILL to polybar leaves behind),
/// then SIGKILL after 5 s.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if self.0.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// With `OCBAR_UPDATE_DOCS=1`, copy a picture the test took to `docs/NAME`.
pub fn update_doc_picture(picture: &Path, name: &str) {
    if std::env::var("OCBAR_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let docs = super::repo().join("docs");
        std::fs::create_dir_all(&docs).expect("mkdir docs");
        std::fs::copy(picture, docs.join(name)).expect("copy the picture to docs/");
    }
}
