//! What the HTTP backends (Loki, Prometheus) share: one reqwest client per backend with the
//! configured CA and auth, and retries with exponential backoff and jitter on the errors that
//! pass (429, 5xx, connection errors, timeouts). Secrets are read here and never formatted into
//! an error or a log line.

use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder, StatusCode};

use crate::config::HttpBackend;
use crate::error::SourceError;

/// How requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        }
    }
}

/// Counters a backend reports into the manifest.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestStats {
    pub requests: u64,
    pub retries: u64,
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

/// A configured HTTP endpoint.
#[derive(Clone)]
pub struct Endpoint {
    pub base: String,
    client: Client,
    auth: Auth,
    tenant: Option<String>,
    pub retry: RetryPolicy,
}

fn read_secret_file(path: &std::path::Path, what: &str) -> Result<String, SourceError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            SourceError::Failed(format!(
                "cannot read the {what} file {}: {e}",
                path.display()
            ))
        })
}

impl Endpoint {
    pub fn new(cfg: &HttpBackend) -> Result<Self, SourceError> {
        let mut builder = Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("akko-audit/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                SourceError::Failed(format!("cannot read ca_file {}: {e}", ca.display()))
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                SourceError::Failed(format!("ca_file {} is not a PEM bundle: {e}", ca.display()))
            })? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| SourceError::Failed(format!("HTTP client: {e}")))?;
        let auth = if let Some(path) = &cfg.bearer_token_file {
            Auth::Bearer(read_secret_file(path, "bearer token")?)
        } else if let Some(user) = &cfg.username {
            let password = match (&cfg.password_env, &cfg.password_file) {
                (Some(var), _) => std::env::var(var).map_err(|_| {
                    SourceError::Failed(format!("environment variable {var} is not set"))
                })?,
                (None, Some(path)) => read_secret_file(path, "password")?,
                (None, None) => String::new(),
            };
            Auth::Basic(user.clone(), password)
        } else {
            Auth::None
        };
        Ok(Endpoint {
            base: cfg.url.clone(),
            client,
            auth,
            tenant: cfg.tenant.clone(),
            retry: RetryPolicy::default(),
        })
    }

    fn request(&self, path: &str) -> RequestBuilder {
        let mut r = self.client.get(format!("{}{path}", self.base));
        r = match &self.auth {
            Auth::None => r,
            Auth::Basic(u, p) => r.basic_auth(u, Some(p)),
            Auth::Bearer(t) => r.bearer_auth(t),
        };
        if let Some(t) = &self.tenant {
            r = r.header("X-Scope-OrgID", t);
        }
        r
    }

    /// GETs `path` with `params`, retrying what passes; returns the body of a 2xx answer.
    /// Errors name the endpoint path and status, never credentials.
    pub async fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
        stats: &mut RequestStats,
    ) -> Result<Vec<u8>, SourceError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            stats.requests += 1;
            let outcome = self.request(path).query(params).send().await;
            let retryable = match outcome {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp.bytes().await.map_err(|e| {
                        SourceError::Failed(format!("{path}: reading the answer failed: {e}"))
                    });
                    match body {
                        Ok(b) => return Ok(b.to_vec()),
                        Err(e) => e.to_string(),
                    }
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    let msg = format!(
                        "{path}: HTTP {status}: {}",
                        text.chars().take(300).collect::<String>()
                    );
                    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        msg
                    } else {
                        return Err(SourceError::Failed(msg));
                    }
                }
                Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                    format!("{path}: {}", describe(e))
                }
                Err(e) => return Err(SourceError::Failed(format!("{path}: {}", describe(e)))),
            };
            if attempt >= self.retry.attempts {
                return Err(SourceError::Failed(format!(
                    "{retryable} (gave up after {attempt} attempts in {:.1}s)",
                    started.elapsed().as_secs_f64()
                )));
            }
            stats.retries += 1;
            tokio::time::sleep(backoff(self.retry, attempt)).await;
        }
    }
}

/// reqwest errors print the URL, which may carry query text; keep the kind and its causes.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// Exponential backoff with full jitter: `rand(0, min(cap, base * 2^attempt))`.
pub fn backoff(p: RetryPolicy, attempt: u32) -> Duration {
    let exp = p.base.saturating_mul(1u32 << attempt.min(16));
    let ceiling = exp.min(p.cap);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // A cheap jitter source is enough: retries only need to spread, not be unpredictable.
    let frac = f64::from(nanos.wrapping_mul(2_654_435_761) % 1_000_000) / 1_000_000.0;
    ceiling.mul_f64(0.5 + frac / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let d = backoff(p, attempt);
            assert!(d <= p.cap, "{d:?}");
            assert!(
                d >= p.base.saturating_mul(1 << attempt).min(p.cap) / 2,
                "{attempt} {d:?}"
            );
        }
    }
}
