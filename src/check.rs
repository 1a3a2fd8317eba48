//! `akko-audit check`: probes every configured source before a run is trusted with the night —
//! reachability, auth and one tiny query per backend, files readable — with latencies.

use std::time::Instant;

use crate::backends::{loki::Loki, postgres, prometheus::Prometheus};
use crate::config::{Backend, Config};

pub struct Probe {
    pub target: String,
    pub ok: bool,
    pub millis: u128,
    pub detail: String,
}

/// Probes the backends in use and every file a file source reads.
pub fn check(config: &Config) -> Vec<Probe> {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return vec![Probe {
                target: "runtime".into(),
                ok: false,
                millis: 0,
                detail: e.to_string(),
            }]
        }
    };
    let uses = |name: &str| config.sources.iter().any(|s| s.backend.name() == name);
    let mut out = Vec::new();
    let mut probe = |target: String, f: &mut dyn FnMut() -> Result<String, String>| {
        let t = Instant::now();
        let r = f();
        out.push(Probe {
            target,
            ok: r.is_ok(),
            millis: t.elapsed().as_millis(),
            detail: r.unwrap_or_else(|e| e),
        });
    };
    if let (true, Some(cfg)) = (uses("loki"), &config.backends.loki) {
        probe(format!("loki {}", cfg.url), &mut || {
            let l = Loki::new(cfg, &cfg.loki).map_err(|e| e.to_string())?;
            rt.block_on(l.probe())
                .map(|_| "labels answered".into())
                .map_err(|e| e.to_string())
        });
    }
    if let (true, Some(cfg)) = (uses("prometheus"), &config.backends.prometheus) {
        probe(format!("prometheus {}", cfg.url), &mut || {
            let p = Prometheus::new(cfg).map_err(|e| e.to_string())?;
            rt.block_on(p.probe())
                .map(|_| "query answered".into())
                .map_err(|e| e.to_string())
        });
    }
    if let (true, Some(cfg)) = (uses("postgres"), &config.backends.postgres) {
        probe("postgres (LiteLLM_SpendLogs)".into(), &mut || {
            rt.block_on(postgres::probe(cfg))
                .map(|_| "table readable".into())
                .map_err(|e| e.to_string())
        });
    }
    if let Some(cfg) = &config.s3 {
        probe(
            format!("s3 {} bucket {}", cfg.endpoint, cfg.bucket),
            &mut || {
                // A HEAD on a key that need not exist: proves endpoint, TLS, credentials and bucket.
                let key = crate::deliver::s3::history_key(cfg, "");
                crate::deliver::s3::exists(cfg, key.trim_end_matches('/'))
                    .map(|_| "credentials accepted".into())
                    .map_err(|e| e.to_string())
            },
        );
    }
    if let Some(smtp) = config.email.as_ref().and_then(|e| e.smtp.as_ref()) {
        probe(format!("smtp {}:{}", smtp.host, smtp.port), &mut || {
            crate::deliver::email::probe(smtp)
                .map(|()| "TLS and login accepted".into())
                .map_err(|e| e.to_string())
        });
    }
    for s in &config.sources {
        if let Backend::Files(files) = &s.backend {
            for f in files {
                probe(
                    format!("{} file {}", s.kind.name(), f.display()),
                    &mut || {
                        std::fs::metadata(f)
                            .map(|m| format!("{} bytes", m.len()))
                            .map_err(|e| e.to_string())
                    },
                );
            }
        }
    }
    out
}
