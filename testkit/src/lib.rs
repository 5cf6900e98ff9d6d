//! Test harness: starts a private ClickHouse server (the Debian `clickhouse-server` binary) on
//! free loopback ports with its data in a temp dir, and hands each test its own migrated
//! database. Nothing depends on a server left running.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::ch::ChSettings;

const CONFIG: &str = include_str!("../../sql/server/config.xml");
const USERS: &str = include_str!("../../sql/server/users.xml");

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// The `clickhouse-server` binary: `CLICKHOUSE_SERVER_BIN`, else the Debian path.
pub fn server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("CLICKHOUSE_SERVER_BIN") {
        return p.into();
    }
    for p in [
        "/usr/sbin/clickhouse-server",
        "/usr/bin/clickhouse-server",
        "/usr/bin/clickhouse",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("clickhouse-server not found: run `scripts/clickhouse install` (or set CLICKHOUSE_SERVER_BIN)")
}

/// A ClickHouse server owned by the test process; killed on drop, and by a watchdog if the
/// test process dies first.
pub struct ClickHouseServer {
    /// The running server (None while stopped).
    child: Option<Child>,
    /// Data, config and logs.
    dir: tempfile::TempDir,
    /// HTTP port on 127.0.0.1.
    pub http_port: u16,
    /// Native protocol port on 127.0.0.1.
    pub tcp_port: u16,
    /// Extra XML put into the config (e.g. `<remote_servers>` for cluster tests).
    extra_config: String,
}

impl ClickHouseServer {
    /// Starts a server and waits until it answers.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Starts a server with extra XML inside `<yandex>`.
    pub fn start_with(extra_config: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ch-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut s = Self {
            child: None,
            dir,
            http_port: free_port(),
            tcp_port: free_port(),
            extra_config: extra_config.to_string(),
        };
        s.spawn();
        s
    }

    /// Base URL of the HTTP interface.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Folder holding data, config and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        for sub in ["log", "data", "tmp", "user_files", "format_schemas"] {
            std::fs::create_dir_all(d.join(sub)).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        let cfg = CONFIG
            .replace("@DIR@", &d.display().to_string())
            .replace("@HTTP_PORT@", &self.http_port.to_string())
            .replace("@TCP_PORT@", &self.tcp_port.to_string())
            .replace("@REMOTE_SERVERS@", &self.extra_config);
        std::fs::write(d.join("config.xml"), cfg).unwrap_or_else(|e| panic!("config: {e}"));
        std::fs::write(d.join("users.xml"), USERS).unwrap_or_else(|e| panic!("users: {e}"));
        // A watchdog shell kills the server if this test process goes away without Drop, and
        // then removes the data folder: the shared server lives in a static, which is never
        // dropped, so its TempDir would otherwise stay behind after every test run.
        let script = format!(
            "{bin} --config-file={cfg} >{log}/stdout.log 2>&1 & ch=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $ch 2>/dev/null; do sleep 1; done; \
             kill -9 $ch 2>/dev/null; wait; \
             while kill -0 {parent} 2>/dev/null; do sleep 1; done; rm -rf '{dir}'",
            bin = server_binary().display(),
            cfg = d.join("config.xml").display(),
            log = d.join("log").display(),
            parent = std::process::id(),
            dir = d.display(),
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start clickhouse-server: {e}"));
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60));
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = "GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        let mut out = String::new();
        s.write_all(req.as_bytes()).is_ok()
            && s.read_to_string(&mut out).is_ok()
            && out.contains("Ok.")
    }

    fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        while !self.answers() {
            if start.elapsed() > limit {
                let log = std::fs::read_to_string(self.dir.path().join("log/error.log"))
                    .unwrap_or_default();
                panic!("clickhouse-server did not answer within {limit:?}; error log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the server (data stays): for outage tests.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Killing the watchdog shell is not enough: kill the server on our port too.
            let _ = Command::new("pkill")
                .args([
                    "-9",
                    "-f",
                    &format!("{}", self.dir.path().join("config.xml").display()),
                ])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let start = Instant::now();
        while self.answers() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Settings for a new, empty, migrated database with a unique name.
    pub async fn fresh_db(&self, prefix: &str) -> ChSettings {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let database = format!("{prefix}_{}_{n}", std::process::id());
        let settings = ChSettings {
            url: self.url(),
            database,
            ..ChSettings::default()
        };
        common::schema::migrate(&settings)
            .await
            .unwrap_or_else(|e| panic!("migrate {}: {e}", settings.database));
        settings
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One server shared by all tests of a test binary (started on first use).
pub fn shared_server() -> &'static ClickHouseServer {
    static S: OnceLock<ClickHouseServer> = OnceLock::new();
    S.get_or_init(ClickHouseServer::start)
}

/// Runs a query and returns the TSV text (for assertions in tests).
pub async fn query_text(settings: &ChSettings, sql: &str) -> String {
    let mut cursor = settings
        .client()
        .query(sql)
        .fetch_bytes("TSV")
        .unwrap_or_else(|e| panic!("query {sql}: {e}"));
    let bytes = cursor
        .collect()
        .await
        .unwrap_or_else(|e| panic!("query {sql}: {e}"));
    String::from_utf8_lossy(&bytes).into_owned()
}
