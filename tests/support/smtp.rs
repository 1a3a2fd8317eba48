//! A real SMTP relay (aiosmtpd, tests/support/smtp_server.py) with STARTTLS or implicit TLS,
//! AUTH and a certificate from a private CA made by the `openssl` CLI; received messages are read
//! back from its Maildir. scripts/test-services.sh installs aiosmtpd into a venv and exports
//! `AKKO_TEST_PYTHON`; without it `python3` must be able to import aiosmtpd, else the test fails
//! (a silently skipped SMTP test would prove nothing).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "akko-mailer";
pub const PASSWORD: &str = "Corr3ct-H0rse-Battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `smtp://`: STARTTLS required, AUTH only after it.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// No TLS at all: a relay the client must refuse.
    Plain,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::StartTls => "starttls",
            Mode::Implicit => "implicit",
            Mode::Plain => "plain",
        }
    }
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    /// The private CA's certificate (PEM): what `email.smtp.ca_file` must name.
    pub ca: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> String {
    let python = std::env::var("AKKO_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let check = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output();
    match check {
        Ok(o) if o.status.success() => python,
        Ok(o) => panic!(
            "{python} cannot import aiosmtpd ({}): run scripts/test.sh, or source \
             scripts/test-services.sh, which installs it into a venv and exports AKKO_TEST_PYTHON",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => {
            panic!("cannot run {python} ({e}): set AKKO_TEST_PYTHON to a Python with aiosmtpd")
        }
    }
}

/// A private CA and a server certificate it signed for 127.0.0.1 and localhost; returns (CA,
/// server certificate, server key). Not one self-signed certificate: `openssl req -x509` marks
/// it CA:TRUE, and rustls (webpki) refuses a CA certificate presented as the server's
/// (`CaUsedAsEndEntity`), as it should.
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let o = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run openssl (Debian package openssl)");
        assert!(
            o.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=akko-audit test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "3650",
        "-out",
        "cert.pem",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

pub fn start(mode: Mode) -> SmtpServer {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(dir.path());
    let port = super::prometheus::free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(python)
        .arg(super::job::repo().join("tests/support/smtp_server.py"))
        .arg(mode.arg())
        .arg("127.0.0.1")
        .arg(port.to_string())
        .arg(dir.path().join("maildir"))
        .arg(&cert)
        .arg(&key)
        .arg(USER)
        .arg(PASSWORD)
        .arg(dir.path().join("auth.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the SMTP server exited ({status}): {}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the SMTP server did not listen on 127.0.0.1:{port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    SmtpServer {
        child,
        port,
        ca,
        dir,
    }
}

impl SmtpServer {
    /// Every message the relay accepted, oldest file name first (Maildir `new/` and `cur/`).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.dir.path().join("maildir").join(d)).ok())
            .flatten()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// One line per AUTH attempt: `ok` or `fail`.
    pub fn auth_attempts(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("auth.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// What the server logged (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}
