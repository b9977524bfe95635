//! nginx with the project's own `nginx/nginx.conf` in front of local replicas.

use super::http::Http;
use super::start_listening;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx in front of local replicas, with the project's own nginx/nginx.conf.
pub struct Nginx {
    child: Option<Child>,
    pub port: u16,
    pub http: Http,
    pub dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start(upstream_ports: &[u16]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // Private, as `mktemp -d` makes it: nginx's workers (an unprivileged user when the
        // master runs as root) cannot create files in it, so nothing may depend on that.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        let conf =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/nginx/nginx.conf"))
                .expect("nginx/nginx.conf");
        assert!(conf.contains("listen 8080 "), "nginx.conf listens on 8080");
        let upstreams: String = upstream_ports
            .iter()
            .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"))
            .collect();
        std::fs::write(dir.path().join("upstream.conf"), upstreams).expect("write upstreams");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nginx");
        let prefix = format!("{}/", dir.path().display());
        let error_log = dir.path().join("error.log");
        let (child, port) = start_listening(
            "nginx",
            |port| {
                let conf = conf.replace("listen 8080 ", &format!("listen 127.0.0.1:{port} "));
                std::fs::write(dir.path().join("nginx.conf"), conf).expect("write conf");
                let log = std::fs::File::create(&error_log).expect("nginx log");
                Command::new(binary)
                    .args([
                        "-p",
                        &prefix,
                        "-c",
                        &format!("{prefix}nginx.conf"),
                        "-g",
                        "daemon off;",
                    ])
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("nginx not found (scripts/test installs it)")
            },
            &error_log,
        );
        Self {
            child: Some(child),
            port,
            http: Http::new(format!("http://127.0.0.1:{port}")),
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// nginx's error log (it logs to stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGQUIT);
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = &self.dir;
    }
}
