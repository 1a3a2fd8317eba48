//! Sending the report mail over SMTP. CONTRACT STUB: implemented on its own branch.

use lettre::message::Mailbox;

use crate::config::delivery::SmtpConfig;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SMTP delivery is not built yet")]
    NotBuilt,
}

/// Sends the rendered message (`raw`, RFC 5322 bytes) to `to`, with retries.
pub fn send(
    _smtp: &SmtpConfig,
    _from: &Mailbox,
    _to: &[Mailbox],
    _raw: &[u8],
) -> Result<(), MailError> {
    Err(MailError::NotBuilt)
}
