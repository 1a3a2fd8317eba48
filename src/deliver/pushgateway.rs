//! Pushes the job metrics to a Prometheus pushgateway, grouped by job and period so the daily,
//! weekly and monthly CronJobs do not overwrite each other. A failed push is logged and does not
//! change the exit code: monitoring must never hold back evidence, and a missing push shows up
//! as a stale `akko_audit_last_run_timestamp_seconds` anyway.

use crate::config::delivery::PushgatewayConfig;

pub fn push(cfg: &PushgatewayConfig, period: &str, body: String) -> Result<(), String> {
    let url = format!("{}/metrics/job/{}/period/{}", cfg.url, cfg.job, period);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("pushgateway: {e}"))?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| format!("pushgateway: {e}"))?;
        // POST replaces only the metric names sent, so a failed run keeps the last success time.
        let mut req = client
            .post(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(body);
        if let Some((user, secret)) = &cfg.auth {
            let password = secret
                .read("pushgateway.password")
                .map_err(|e| format!("pushgateway: {e}"))?;
            let password = String::from_utf8(password)
                .map_err(|_| "pushgateway.password: the secret is not UTF-8 text".to_string())?;
            req = req.basic_auth(user, Some(password));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("pushgateway {}: {}", cfg.url, e.without_url()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            Err(format!(
                "pushgateway {} answered {status}: {}",
                cfg.url,
                text.chars().take(300).collect::<String>()
            ))
        }
    })
}
