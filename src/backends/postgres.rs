//! The PostgreSQL backend for LiteLLM's `"LiteLLM_SpendLogs"`: the window filter and the
//! reduction per (user, model) run in SQL, so only the aggregate crosses the network.
//!
//! Spend is summed as `spend::text::numeric`: `float8` to text is the shortest exact form (the
//! same digits `\copy` exports), so the SQL sum equals the file path's exact decimal sum.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::config::PostgresBackend;
use crate::error::SourceError;
use crate::sources::litellm::{LlmHour, LlmUsage, COST_SCALE, UNATTRIBUTED};
use crate::sources::values::decimal_units;

pub const USAGE_SQL: &str = r#"
SELECT COALESCE(NULLIF(btrim("user"), ''), $3) AS u,
       model,
       COALESCE(btrim(custom_llm_provider), '') AS p,
       count(*)::bigint,
       (count(*) FILTER (WHERE status = 'failure'))::bigint,
       COALESCE(sum(prompt_tokens), 0)::bigint,
       COALESCE(sum(completion_tokens), 0)::bigint,
       COALESCE(sum(total_tokens), 0)::bigint,
       COALESCE(sum(spend::text::numeric), 0)::text
  FROM "LiteLLM_SpendLogs"
 WHERE "startTime" >= $1 AND "startTime" < $2
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3"#;

fn err(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Failed(format!("postgres: {what}: {e}"))
}

/// The connection URL from the env var or the mounted file (never logged).
fn url(cfg: &PostgresBackend) -> Result<String, SourceError> {
    if let Some(var) = &cfg.url_env {
        return std::env::var(var)
            .map_err(|_| SourceError::Failed(format!("environment variable {var} is not set")));
    }
    if let Some(path) = &cfg.url_file {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| {
                SourceError::Failed(format!("cannot read url_file {}: {e}", path.display()))
            });
    }
    Err(SourceError::Failed(
        "postgres: no url_env or url_file".to_string(),
    ))
}

fn tls(cfg: &PostgresBackend) -> Result<tokio_postgres_rustls::MakeRustlsConnect, SourceError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| err("ca_file", e))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots
                .add(cert.map_err(|e| err("ca_file", e))?)
                .map_err(|e| err("ca_file", e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| err("tls", e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

async fn connect(cfg: &PostgresBackend) -> Result<Client, SourceError> {
    let url = url(cfg)?;
    let (client, conn) = tokio::time::timeout(
        Duration::from_secs(15),
        tokio_postgres::connect(&url, tls(cfg)?),
    )
    .await
    .map_err(|_| err("connect", "timed out after 15s"))?
    // tokio-postgres' errors do not include the URL or password.
    .map_err(|e| err("connect", e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Requests per (hour, model) for the request-rate and latency panels; latency as the file path
/// computes it (`endTime - startTime`, whole milliseconds per request).
const HOURS_SQL: &str = r#"
SELECT (extract(epoch FROM date_trunc('hour', "startTime")) * 1000000000)::bigint AS h,
       model,
       count(*)::bigint,
       (count(*) FILTER (WHERE status = 'failure'))::bigint,
       COALESCE(sum(trunc(extract(epoch FROM ("endTime" - "startTime")) * 1000)), 0)::bigint,
       count("endTime")::bigint
  FROM "LiteLLM_SpendLogs"
 WHERE "startTime" >= $1 AND "startTime" < $2
 GROUP BY 1, 2
 ORDER BY 1, 2"#;

/// LiteLLM usage per (user, model) and requests per (hour, model) for `[start, end)`, read in
/// one read-only transaction so both see the same rows.
pub async fn llm_usage(
    cfg: &PostgresBackend,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(Vec<LlmUsage>, Vec<LlmHour>), SourceError> {
    let mut client = connect(cfg).await?;
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(|e| err("begin", e))?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}",
        cfg.statement_timeout.as_millis()
    ))
    .await
    .map_err(|e| err("statement_timeout", e))?;
    let rows = tx
        .query(
            USAGE_SQL,
            &[&start.naive_utc(), &end.naive_utc(), &UNATTRIBUTED],
        )
        .await
        .map_err(|e| err("spend-log query", e))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let cost: String = r.get(8);
        out.push(LlmUsage {
            user: r.get(0),
            model: r.get(1),
            provider: r.get(2),
            requests: r.get(3),
            failed: r.get(4),
            prompt_tokens: r.get(5),
            completion_tokens: r.get(6),
            total_tokens: r.get(7),
            cost_units: decimal_units(&cost, COST_SCALE)
                .ok_or_else(|| err("spend sum", format!("{cost:?} is not a number")))?,
        });
    }
    let hours = tx
        .query(HOURS_SQL, &[&start.naive_utc(), &end.naive_utc()])
        .await
        .map_err(|e| err("spend-log hourly query", e))?
        .into_iter()
        .map(|r| LlmHour {
            hour_ns: r.get(0),
            model: r.get(1),
            requests: r.get(2),
            failed: r.get(3),
            latency_ms: r.get(4),
            timed: r.get(5),
        })
        .collect();
    tx.commit().await.map_err(|e| err("commit", e))?;
    Ok((out, hours))
}

pub async fn probe(cfg: &PostgresBackend) -> Result<(), SourceError> {
    let client = connect(cfg).await?;
    client
        .query_one(
            r#"SELECT count(*) FROM (SELECT 1 FROM "LiteLLM_SpendLogs" LIMIT 1) t"#,
            &[],
        )
        .await
        .map(|_| ())
        .map_err(|e| err("probe", e))
}
