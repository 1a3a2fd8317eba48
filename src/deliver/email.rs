//! Sending the report mail over SMTP.
//!
//! The blocking [`SmtpTransport`] rather than the async one: [`send`] is a synchronous contract
//! called once per run from synchronous delivery code, and the blocking transport needs no
//! runtime (so it cannot panic by being called from inside one) while using the same rustls
//! stack. The message is sent as rendered (`send_raw`), so what was mailed is byte for byte what
//! `mail.eml` would hold.
//!
//! Security is never negotiated down: `smtp://` requires STARTTLS (a relay that does not offer it
//! is refused before credentials or evidence are sent), `smtps://` is TLS from the first byte.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{SmtpTransport, Transport};
use tracing::warn;

use crate::config::delivery::{SmtpConfig, SmtpSecurity};

/// Each pause is this many times the one before: with the default first pause of 1 s and 4
/// attempts, 1 s, 4 s, 16 s, so a relay restarting or failing over (tens of seconds) is
/// outlasted, while a relay that stays down still ends the run within half a minute.
const BACKOFF_FACTOR: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The password or CA file could not be read (the message names the setting).
    #[error("SMTP relay {relay}: {message}")]
    Config { relay: String, message: String },
    #[error("the message cannot be addressed: {0}")]
    Envelope(String),
    /// Permanent: retrying with the same credentials cannot help and may lock the account.
    #[error("SMTP relay {relay} refused the login of user {user:?} ({detail}); check email.smtp.username and email.smtp.password_env/_file")]
    Auth {
        relay: String,
        user: String,
        detail: String,
    },
    #[error("SMTP relay {relay} does not offer STARTTLS; refusing to send credentials and evidence unencrypted (use smtps:// if the relay speaks TLS from the first byte)")]
    NoStartTls { relay: String },
    #[error("SMTP relay {relay}: TLS failed ({detail}); if the relay uses a private CA, set email.smtp.ca_file to its PEM bundle")]
    Tls { relay: String, detail: String },
    #[error("SMTP relay {relay} rejected the message ({detail})")]
    Rejected { relay: String, detail: String },
    #[error("SMTP relay {relay}: gave up after {attempts} attempt(s): {detail}; check email.smtp.url and that the relay is reachable, or raise email.smtp.retries / email.smtp.timeout")]
    GaveUp {
        relay: String,
        attempts: u32,
        detail: String,
    },
}

/// Sends the rendered message (`raw`, RFC 5322 bytes) to `to`, with retries.
pub fn send(
    smtp: &SmtpConfig,
    from: &Mailbox,
    to: &[Mailbox],
    raw: &[u8],
) -> Result<(), MailError> {
    send_with(
        smtp,
        from,
        to,
        raw,
        smtp.retry_backoff,
        &mut std::thread::sleep,
    )
}

/// Connects, negotiates TLS and logs in without sending anything: `akko-audit check`.
pub fn probe(smtp: &SmtpConfig) -> Result<(), MailError> {
    let relay = format!("{}:{}", smtp.host, smtp.port);
    let transport = transport(smtp, &relay)?;
    match transport.test_connection() {
        Ok(true) => Ok(()),
        Ok(false) => Err(MailError::Rejected {
            relay,
            detail: "the relay did not answer NOOP".into(),
        }),
        Err(e) => Err(classify(smtp, &relay, &e).error),
    }
}

/// [`send`] with the backoff injected: tests must not sleep for seconds.
pub fn send_with(
    smtp: &SmtpConfig,
    from: &Mailbox,
    to: &[Mailbox],
    raw: &[u8],
    first_backoff: Duration,
    sleep: &mut dyn FnMut(Duration),
) -> Result<(), MailError> {
    let relay = format!("{}:{}", smtp.host, smtp.port);
    let envelope = Envelope::new(
        Some(from.email.clone()),
        to.iter().map(|m| m.email.clone()).collect(),
    )
    .map_err(|e| MailError::Envelope(e.to_string()))?;
    let transport = transport(smtp, &relay)?;
    let attempts = smtp.retries.max(1);
    let mut backoff = first_backoff;
    let mut attempt = 1;
    loop {
        let err = match transport.send_raw(&envelope, raw) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let failure = classify(smtp, &relay, &err);
        let Some(detail) = failure.transient else {
            return Err(failure.error);
        };
        if attempt >= attempts {
            return Err(MailError::GaveUp {
                relay,
                attempts,
                detail,
            });
        }
        warn!(relay = %relay, attempt, error = %detail, retry_in = ?backoff, "SMTP delivery failed; retrying");
        sleep(backoff);
        backoff = backoff.saturating_mul(BACKOFF_FACTOR);
        attempt += 1;
    }
}

/// The transport for the configured relay: TLS parameters with the private CA, credentials,
/// timeout. Built once; each attempt opens its own connection.
fn transport(smtp: &SmtpConfig, relay: &str) -> Result<SmtpTransport, MailError> {
    let config_err = |message: String| MailError::Config {
        relay: relay.to_string(),
        message,
    };
    let mut tls = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = &smtp.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            config_err(format!(
                "cannot read email.smtp.ca_file {}: {e}",
                path.display()
            ))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            config_err(format!(
                "email.smtp.ca_file {} is not a PEM certificate bundle: {e}",
                path.display()
            ))
        })?;
        tls = tls.add_root_certificate(cert);
    }
    let tls = tls
        .build()
        .map_err(|e| config_err(format!("TLS setup failed: {e}")))?;
    let tls = match smtp.security {
        SmtpSecurity::StartTls => Tls::Required(tls),
        SmtpSecurity::Implicit => Tls::Wrapper(tls),
    };
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(smtp.timeout));
    if let (Some(user), Some(secret)) = (&smtp.username, &smtp.password) {
        let password = secret
            .read("email.smtp.password")
            .map_err(|e| config_err(e.to_string()))?;
        let password = String::from_utf8(password).map_err(|_| {
            config_err("the password in email.smtp.password_env/_file is not UTF-8".to_string())
        })?;
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

struct Failure {
    error: MailError,
    /// `Some(detail)` when another attempt may succeed.
    transient: Option<String>,
}

/// Which failures are worth another attempt: 4xx replies, network and connection errors and
/// timeouts. Refused credentials, TLS verification, a missing STARTTLS and 5xx replies are
/// permanent: the same request would fail the same way.
fn classify(smtp: &SmtpConfig, relay: &str, err: &SmtpError) -> Failure {
    let detail = describe(err);
    let relay = relay.to_string();
    let permanent = |error| Failure {
        error,
        transient: None,
    };
    let code = err.status().map(|c| c.to_string());
    // 530 auth required, 534 mechanism too weak, 535 credentials invalid, 538 encryption needed.
    if matches!(code.as_deref(), Some("530" | "534" | "535" | "538"))
        || detail.contains("No compatible authentication mechanism")
    {
        return permanent(MailError::Auth {
            relay,
            user: smtp.username.clone().unwrap_or_default(),
            detail,
        });
    }
    if detail.contains("STARTTLS is not supported") {
        return permanent(MailError::NoStartTls { relay });
    }
    if err.is_tls() || tls_handshake_failed(err) {
        return permanent(MailError::Tls { relay, detail });
    }
    if err.is_permanent() || err.is_client() {
        return permanent(MailError::Rejected { relay, detail });
    }
    Failure {
        error: MailError::GaveUp {
            relay,
            attempts: 1,
            detail: detail.clone(),
        },
        transient: Some(detail),
    }
}

/// A rejected certificate surfaces from lettre as a *network* error wrapping rustls' error in an
/// `io::Error`; it must not be retried like a dropped connection, and the hint is the CA file.
fn tls_handshake_failed(err: &SmtpError) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // io::Error::source() skips the wrapped error itself: look at it directly.
        if let Some(inner) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// lettre's error with its causes (`invalid peer certificate: UnknownIssuer` sits in a source).
/// lettre never puts credentials into errors; the relay's replies do not echo them either.
fn describe(err: &SmtpError) -> String {
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn config(port: u16, retries: u32) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::StartTls,
            username: None,
            password: None,
            ca_file: None,
            retries,
            retry_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        }
    }

    fn mb(a: &str) -> Mailbox {
        a.parse().unwrap()
    }

    /// A port nothing listens on: connecting is refused at once (a transient failure).
    fn closed_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn unreachable_relay_is_retried_with_exponential_backoff() {
        let port = closed_port();
        let mut sleeps = Vec::new();
        let err = send_with(
            &config(port, 4),
            &mb("a@example.org"),
            &[mb("b@example.org")],
            b"Subject: x\r\n\r\nx\r\n",
            Duration::from_millis(1),
            &mut |d| sleeps.push(d),
        )
        .unwrap_err();
        assert_eq!(
            sleeps,
            [1, 4, 16].map(Duration::from_millis),
            "three pauses between four attempts"
        );
        let text = err.to_string();
        assert!(
            matches!(err, MailError::GaveUp { attempts: 4, .. }),
            "{text}"
        );
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    }

    #[test]
    fn one_attempt_means_no_pause() {
        let mut sleeps = Vec::new();
        let err = send_with(
            &config(closed_port(), 1),
            &mb("a@example.org"),
            &[mb("b@example.org")],
            b"x",
            Duration::from_secs(60),
            &mut |d| sleeps.push(d),
        )
        .unwrap_err();
        assert!(sleeps.is_empty());
        assert!(
            matches!(err, MailError::GaveUp { attempts: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn unreadable_ca_file_names_the_setting() {
        let mut cfg = config(closed_port(), 3);
        cfg.ca_file = Some("/nonexistent/ca.pem".into());
        let err = send(&cfg, &mb("a@example.org"), &[mb("b@example.org")], b"x").unwrap_err();
        assert!(err.to_string().contains("email.smtp.ca_file"), "{err}");
    }

    #[test]
    fn no_recipients_is_refused_before_connecting() {
        let err = send(&config(closed_port(), 3), &mb("a@example.org"), &[], b"x").unwrap_err();
        assert!(matches!(err, MailError::Envelope(_)), "{err}");
    }
}
