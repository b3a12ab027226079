//! Outgoing email through lettre: SMTP when a server is configured, else
//! `.eml` files under the data directory, so a default install works
//! offline and an operator can read what would have been sent.

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};

/// Where and how mail goes.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://user:pass@host:587?tls=required`, `smtps://…`; none: files.
    pub smtp_url: Option<String>,
    /// The From header.
    pub from: String,
    /// Where `.eml` files go without SMTP.
    pub dir: PathBuf,
    /// Base of links in messages, e.g. `https://tasks.example.com`.
    pub base_url: String,
}

impl MailSettings {
    /// File transport into `dir`, links to `base_url`.
    pub fn files(dir: PathBuf, base_url: &str) -> MailSettings {
        MailSettings {
            smtp_url: None,
            from: "Taskpulse <taskpulse@localhost>".into(),
            dir,
            base_url: base_url.trim_end_matches('/').into(),
        }
    }

    /// Checks the From address and the SMTP URL (at start-up).
    pub fn check(&self) -> Result<(), String> {
        self.from.parse::<Mailbox>().map_err(|e| format!("TASKPULSE_MAIL_FROM: {e}"))?;
        if let Some(url) = &self.smtp_url {
            SmtpTransport::from_url(url).map_err(|e| format!("TASKPULSE_SMTP_URL: {e}"))?;
        }
        Ok(())
    }

    /// Where mail goes, for the Jobs page (no credentials).
    pub fn describe(&self) -> String {
        match self.smtp_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
            Some(url) => format!("SMTP {}:{}", url.host_str().unwrap_or("?"), url.port().unwrap_or(587)),
            // The server's paths stay on the server.
            None => ".eml files in the data directory (mail/)".to_string(),
        }
    }
}

/// One message.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Recipient address.
    pub to: &'a str,
    /// Recipient name.
    pub to_name: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Plain-text body.
    pub text: &'a str,
    /// HTML body.
    pub html: &'a str,
}

/// Header text on one line: control characters (CR, LF…) become spaces, so
/// no value can start a header of its own.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

/// Builds a message (multipart: text and HTML).
pub fn build(settings: &MailSettings, mail: &Outgoing<'_>) -> Result<Message, String> {
    let from: Mailbox = settings.from.parse().map_err(|e| format!("bad From address: {e}"))?;
    let to = Mailbox::new(
        Some(one_line(mail.to_name)).filter(|n| !n.is_empty()),
        mail.to.trim().parse().map_err(|e| format!("bad address '{}': {e}", mail.to))?,
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(one_line(mail.subject))
        .multipart(MultiPart::alternative_plain_html(mail.text.to_string(), mail.html.to_string()))
        .map_err(|e| e.to_string())
}

/// Sends a message (blocking: call it off the async executor).
pub fn send(settings: &MailSettings, mail: &Outgoing<'_>) -> Result<(), String> {
    let message = build(settings, mail)?;
    match &settings.smtp_url {
        Some(url) => {
            let transport = SmtpTransport::from_url(url)
                .map_err(|e| e.to_string())?
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build();
            transport.send(&message).map(|_| ()).map_err(|e| e.to_string())
        }
        None => {
            std::fs::create_dir_all(&settings.dir).map_err(|e| format!("{}: {e}", settings.dir.display()))?;
            FileTransport::new(&settings.dir).send(&message).map(|_| ()).map_err(|e| e.to_string())
        }
    }
}
