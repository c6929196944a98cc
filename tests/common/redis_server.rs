//! A real `redis-server` for the shared store's tests: started on a free
//! loopback port with no persistence, killed on drop.
//!
//! The server runs under a small `sh` watchdog that holds the test
//! process's pipe on its standard input: when the test process ends by any
//! means (a panic, a signal, a time-out), the pipe closes and the watchdog
//! kills the server, so no test leaves a `redis-server` running.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to answer its first `PING`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `redis-server` with the arguments after `sh`'s `$0`, prints its
/// pid, then waits for standard input to close and kills it.
const WATCHDOG: &str = r#"redis-server "$@" &
server=$!
echo "$server"
read -r line || true
kill -9 "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit 0"#;

/// A running `redis-server` on `127.0.0.1:<port>`.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
    pid: u32,
}

impl RedisServer {
    /// Starts a server on a free port; `None` (after a loud message) when
    /// `redis-server` is not installed, a panic instead under `CI`. Panics
    /// when the server does not come up.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
        {
            return skip("`redis-server` is not installed");
        }
        let dir = std::env::temp_dir().join(format!(
            "oauth2-redis-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        // A port taken between its probe and the server's bind makes the
        // server exit: try another.
        for _ in 0..5 {
            let port = free_port();
            let mut server = Self {
                port,
                dir: dir.clone(),
                watchdog: None,
                pid: 0,
            };
            if server.spawn().is_ok() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with `SIGKILL`, as a crash or an OOM killer would,
    /// and waits until its port refuses connections.
    pub fn kill_9(&mut self) {
        let status = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -9 {} failed", self.pid);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "redis-server still accepts after SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop_watchdog();
    }

    /// Starts the server again on the same port (empty: nothing persists).
    pub fn restart(&mut self) {
        self.stop_watchdog();
        self.spawn()
            .unwrap_or_else(|e| panic!("redis-server did not restart on port {}: {e}", self.port));
    }

    /// Sends one inline command on a fresh connection and returns the first
    /// line of the answer (`+PONG`, `+OK`, `:1`, …).
    pub fn command(&self, line: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .expect("answer");
        answer.trim_end().to_owned()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            // A log file, not the pipe: nothing reads the pipe after the
            // pid, and a full pipe would block the server.
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn sh: {e}"))?;
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut pid = String::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).map_err(|e| e.to_string())? == 1 && byte[0] != b'\n' {
            pid.push(char::from(byte[0]));
        }
        self.pid = pid
            .trim()
            .parse()
            .map_err(|_| format!("the watchdog printed {pid:?}, not a pid"))?;
        self.watchdog = Some((child, stdin));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if ping(self.port) {
                return Ok(());
            }
            let exited = self
                .watchdog
                .as_mut()
                .is_some_and(|(child, _)| matches!(child.try_wait(), Ok(Some(_))))
                || !alive(self.pid);
            if exited || Instant::now() >= deadline {
                self.stop_watchdog();
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(format!("no PONG on port {}; its log:\n{log}", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes the watchdog's input (it kills the server) and reaps it.
    fn stop_watchdog(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop_watchdog();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a server answers `PING` on `port`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 5];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG"
}

/// Whether process `pid` runs (exists and is no zombie; Linux `/proc`).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
    else {
        return false;
    };
    // `pid (comm) state …`: the state follows the last parenthesis.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// `None` after a loud message; a panic under CI, which must run these tests.
fn skip<T>(reason: &str) -> Option<T> {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the Redis store tests: {reason} (apt-get install redis-server)"
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED: the Redis store tests need a real Redis:\n\
         !!! {reason}.\n\
         !!! Install it (`apt-get install redis-server`); CI must have it.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    None
}
