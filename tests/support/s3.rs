//! A real S3 server in-process: s3s-fs 0.14.1 (the library behind the `s3s-fs` binary), which
//! checks SigV4 signatures and presigned URLs and stores each object as a plain file under
//! `<root>/<bucket>/<key>`, so tests can compare bytes, list keys and tamper with objects.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;

pub struct S3Server {
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    pub bucket: String,
    pub root: TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl S3Server {
    /// Serves `root` with one bucket (a directory) and one key pair. Ready on return: the
    /// listener is bound before this returns, so connections queue until the loop accepts them.
    pub fn start(access_key: &str, secret_key: &str, bucket: &str) -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(bucket)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut b = S3ServiceBuilder::new(fs);
        b.set_auth(SimpleAuth::from_single(access_key, secret_key));
        let service = b.build();

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let socket = tokio::select! {
                        r = listener.accept() => match r {
                            Ok((s, _)) => s,
                            Err(_) => continue,
                        },
                        _ = &mut rx => break,
                    };
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        });
        S3Server {
            endpoint,
            bucket: bucket.to_string(),
            root,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(&self.bucket)
    }

    /// The file holding `key`.
    pub fn object(&self, key: &str) -> PathBuf {
        self.bucket_dir().join(key)
    }

    /// The SHA-256 (base64) the server checked and recorded for `key`: s3s-fs keeps it only when
    /// the upload carried `x-amz-checksum-sha256`, after comparing it with the bytes received.
    pub fn checked_sha256(&self, key: &str) -> Option<String> {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let info = self.root.path().join(format!(
            ".bucket-{}.object-{}.internal.json",
            b64(&self.bucket),
            b64(key)
        ));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(info).ok()?).ok()?;
        v["checksum_sha256"].as_str().map(str::to_string)
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.bucket_dir(), &self.bucket_dir(), &mut out);
        out.sort();
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
