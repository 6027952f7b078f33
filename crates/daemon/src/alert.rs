//! Sending alerts: webhooks (JSON POST, HMAC-SHA256 signed, retries with
//! exponential backoff), e-mail over SMTP, and structured log lines.
//!
//! Batching is pure (`rampart_guard::alert::Batcher`); sending happens on
//! one sender thread behind a bounded queue ([`AlertSender`]), never on
//! the decision path. A full queue drops the batch, counts it
//! ([`AlertStats::dropped_batches`]) and says so in the next message
//! (`dropped_batches` in the payload): never silently.
//!
//! The webhook body is the batch as JSON with `version`, `host` and
//! `dropped_batches` added; with a secret, the header
//! `X-Rampart-Signature: sha256=<hex>` carries HMAC-SHA256(secret, body)
//! (the GitHub scheme), which the receiver recomputes over the raw body.
//!
//! ```
//! use rampart_daemon::alert::signature;
//! assert_eq!(
//!     signature(b"key", b"The quick brown fox jumps over the lazy dog"),
//!     "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
//! );
//! ```

use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rampart_guard::alert::{
    AlertConfig, AlertEvent, Batch, Batcher, EmailConfig, LogFormat, SmtpTls, WebhookConfig,
};
use rampart_guard::{Action, Timestamp};
use sha2::Sha256;

/// Errors found when starting the sender (before anything is sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// A secret or password file cannot be read.
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// An e-mail setting lettre refuses (an address, the server name).
    #[error("{place}: {message}")]
    Email { place: String, message: String },
    #[error("starting the alert thread: {0}")]
    Thread(std::io::Error),
}

/// Counters of the sender thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Batches queued.
    pub queued: u64,
    /// Batches dropped because the queue was full.
    pub dropped_batches: u64,
    /// Deliveries (one per channel and batch) that succeeded.
    pub delivered: u64,
    /// Deliveries that failed after every retry.
    pub failed: u64,
    /// Attempts that were retried.
    pub retries: u64,
    pub last_error: Option<String>,
}

/// Sender tuning (tests shorten the backoff).
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// First wait before a retry; doubles each time.
    pub backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for SenderOptions {
    fn default() -> SenderOptions {
        SenderOptions {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// The sender thread and its bounded queue.
#[derive(Debug)]
pub struct AlertSender {
    tx: Option<SyncSender<Batch>>,
    stats: Arc<Mutex<AlertStats>>,
    thread: Option<JoinHandle<()>>,
}

/// Where log-channel lines go (stderr in the daemon; a buffer in tests).
pub type LogSink = Box<dyn Write + Send>;

impl AlertSender {
    /// Reads the secret and password files, then starts the thread.
    /// `host` names this machine in every message.
    pub fn start(config: &AlertConfig, host: &str) -> Result<AlertSender, AlertError> {
        AlertSender::start_with(
            config,
            host,
            SenderOptions::default(),
            Box::new(std::io::stderr()),
        )
    }

    pub fn start_with(
        config: &AlertConfig,
        host: &str,
        options: SenderOptions,
        log: LogSink,
    ) -> Result<AlertSender, AlertError> {
        let mut webhooks = Vec::new();
        for w in &config.webhook {
            let secret = match (&w.secret, &w.secret_file) {
                (Some(s), _) => Some(s.clone().into_bytes()),
                (None, Some(path)) => Some(read_secret(path)?),
                (None, None) => None,
            };
            webhooks.push((w.clone(), secret));
        }
        let mut emails = Vec::new();
        for (i, e) in config.email.iter().enumerate() {
            emails.push(Mailer::new(i, e)?);
        }
        let log_format = config.log.as_ref().map(|l| l.format);
        let stats = Arc::new(Mutex::new(AlertStats::default()));
        let (tx, rx) = sync_channel(config.queue.max(1));
        let worker = Worker {
            host: host.to_string(),
            webhooks,
            emails,
            log_format,
            log,
            options,
            stats: Arc::clone(&stats),
            reported_drops: 0,
        };
        let thread = std::thread::Builder::new()
            .name("rampart-alerts".into())
            .spawn(move || worker.run(rx))
            .map_err(AlertError::Thread)?;
        Ok(AlertSender {
            tx: Some(tx),
            stats,
            thread: Some(thread),
        })
    }

    /// Queues a batch; never blocks. A full queue drops it and counts it.
    pub fn send(&self, batch: Batch) -> bool {
        let Some(tx) = &self.tx else { return false };
        let result = tx.try_send(batch);
        let mut stats = lock(&self.stats);
        match result {
            Ok(()) => {
                stats.queued += 1;
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                stats.dropped_batches += 1;
                false
            }
        }
    }

    pub fn stats(&self) -> AlertStats {
        lock(&self.stats).clone()
    }

    /// Sends what is queued, then stops the thread.
    pub fn shutdown(mut self) -> AlertStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for AlertSender {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The batcher and the sender together, for the run loop: feed it the
/// engine's actions and the time; it sends a batch when a window closes.
#[derive(Debug)]
pub struct Alerts {
    batcher: Batcher,
    sender: AlertSender,
    unbans: bool,
}

impl Alerts {
    pub fn new(config: &AlertConfig, sender: AlertSender) -> Alerts {
        Alerts {
            batcher: Batcher::new(config),
            sender,
            unbans: config.unbans,
        }
    }

    /// Adds the actions' events at `now` (sends a batch whose window
    /// closed).
    pub fn on_actions(&mut self, now: Timestamp, actions: &[Action]) {
        for action in actions {
            if let Some(event) = AlertEvent::from_action(now, action, self.unbans) {
                self.on_event(now, event);
            }
        }
    }

    pub fn on_event(&mut self, now: Timestamp, event: AlertEvent) {
        if let Some(batch) = self.batcher.push(now, event) {
            self.sender.send(batch);
        }
    }

    /// Sends the open batch when its window closed at `now`.
    pub fn tick(&mut self, now: Timestamp) {
        if let Some(batch) = self.batcher.poll(now) {
            self.sender.send(batch);
        }
    }

    /// When [`Alerts::tick`] has something to do.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.batcher.deadline()
    }

    pub fn stats(&self) -> AlertStats {
        self.sender.stats()
    }

    /// Sends the open batch and everything queued, then stops.
    pub fn shutdown(mut self) -> AlertStats {
        if let Some(batch) = self.batcher.flush() {
            self.sender.send(batch);
        }
        self.sender.shutdown()
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The webhook body: the batch with `version`, `host` and
/// `dropped_batches` added.
pub fn payload(batch: &Batch, host: &str, dropped_batches: u64) -> Vec<u8> {
    let mut value = serde_json::to_value(batch).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("version".into(), 1.into());
        map.insert("host".into(), host.into());
        map.insert("headline".into(), batch.headline().into());
        map.insert("dropped_batches".into(), dropped_batches.into());
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

fn read_secret(path: &std::path::Path) -> Result<Vec<u8>, AlertError> {
    let mut bytes = std::fs::read(path).map_err(|source| AlertError::File {
        path: path.display().to_string(),
        source,
    })?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
}

fn lock(stats: &Mutex<AlertStats>) -> std::sync::MutexGuard<'_, AlertStats> {
    // A panic while holding the lock leaves plain counters: still usable.
    stats.lock().unwrap_or_else(|e| e.into_inner())
}

struct Worker {
    host: String,
    webhooks: Vec<(WebhookConfig, Option<Vec<u8>>)>,
    emails: Vec<Mailer>,
    log_format: Option<LogFormat>,
    log: LogSink,
    options: SenderOptions,
    stats: Arc<Mutex<AlertStats>>,
    reported_drops: u64,
}

impl Worker {
    fn run(mut self, rx: Receiver<Batch>) {
        while let Ok(batch) = rx.recv() {
            self.deliver(&batch);
        }
    }

    fn deliver(&mut self, batch: &Batch) {
        let dropped = lock(&self.stats).dropped_batches;
        let new_drops = dropped - self.reported_drops;
        self.reported_drops = dropped;
        if let Some(format) = self.log_format {
            let line = match format {
                LogFormat::Json => {
                    let mut body = payload(batch, &self.host, new_drops);
                    body.push(b'\n');
                    body
                }
                LogFormat::Text => {
                    let mut text =
                        format!("rampart guard alert on {}: {}", self.host, batch.headline());
                    if let Some(top) = batch.addresses.first() {
                        text.push_str(&format!("; top address {} ({})", top.name, top.count));
                    }
                    if new_drops > 0 {
                        text.push_str(&format!(
                            "; {new_drops} earlier batches dropped (queue full)"
                        ));
                    }
                    text.push('\n');
                    text.into_bytes()
                }
            };
            let ok = self.log.write_all(&line).and_then(|()| self.log.flush());
            self.record(ok.map_err(|e| format!("alert log: {e}")));
        }
        if !self.webhooks.is_empty() {
            let body = payload(batch, &self.host, new_drops);
            for i in 0..self.webhooks.len() {
                let result = self.post(i, &body);
                self.record(result);
            }
        }
        for i in 0..self.emails.len() {
            let mut text = batch.text(200);
            if new_drops > 0 {
                text.push_str(&format!(
                    "\n{new_drops} earlier alert batches were dropped (queue full).\n"
                ));
            }
            let subject = format!("rampart guard on {}: {}", self.host, batch.headline());
            let result = self.mail(i, &subject, &text);
            self.record(result);
        }
    }

    fn record(&self, result: Result<(), String>) {
        let mut stats = lock(&self.stats);
        match result {
            Ok(()) => stats.delivered += 1,
            Err(e) => {
                stats.failed += 1;
                stats.last_error = Some(e);
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.options
            .backoff
            .saturating_mul(factor)
            .min(self.options.max_backoff)
    }

    fn post(&self, i: usize, body: &[u8]) -> Result<(), String> {
        let (config, secret) = &self.webhooks[i];
        let timeout = Duration::from_secs(config.timeout.seconds().unwrap_or(10));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .build()
            .into();
        let mut last = String::new();
        for attempt in 0..=config.retries {
            if attempt > 0 {
                lock(&self.stats).retries += 1;
                std::thread::sleep(self.backoff(attempt - 1));
            }
            let mut request = agent
                .post(&config.url)
                .header("Content-Type", "application/json")
                .header(
                    "User-Agent",
                    concat!("rampart-guard/", env!("CARGO_PKG_VERSION")),
                );
            if let Some(secret) = secret {
                request = request.header("X-Rampart-Signature", signature(secret, body));
            }
            match request.send(body) {
                Ok(_) => return Ok(()),
                Err(ureq::Error::StatusCode(code))
                    if !(code >= 500 || code == 429 || code == 408) =>
                {
                    return Err(format!("webhook {}: HTTP {code} (not retried)", config.url));
                }
                Err(e) => last = format!("webhook {}: {e}", config.url),
            }
        }
        Err(format!("{last} (after {} attempts)", config.retries + 1))
    }

    fn mail(&self, i: usize, subject: &str, text: &str) -> Result<(), String> {
        let mailer = &self.emails[i];
        let mut last = String::new();
        for attempt in 0..=mailer.retries {
            if attempt > 0 {
                lock(&self.stats).retries += 1;
                std::thread::sleep(self.backoff(attempt - 1));
            }
            match mailer.send(subject, text) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(format!("{last} (after {} attempts)", mailer.retries + 1))
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// One `[[alert.email]]`, its transport built once.
struct Mailer {
    place: String,
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
    retries: u32,
}

impl Mailer {
    fn new(i: usize, config: &EmailConfig) -> Result<Mailer, AlertError> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::SmtpTransport;
        let place = format!("alert.email[{i}]");
        let bad = |key: &str, e: &dyn std::fmt::Display| AlertError::Email {
            place: format!("{place}.{key}"),
            message: e.to_string(),
        };
        let from = config.from.parse().map_err(|e| bad("from", &e))?;
        let to = config
            .to
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("to", &e))?;
        let mut builder = match config.tls {
            SmtpTls::Starttls => {
                SmtpTransport::starttls_relay(&config.server).map_err(|e| bad("server", &e))?
            }
            SmtpTls::Tls => SmtpTransport::relay(&config.server).map_err(|e| bad("server", &e))?,
            SmtpTls::None => SmtpTransport::builder_dangerous(&config.server),
        };
        builder = builder.port(config.port).timeout(Some(Duration::from_secs(
            config.timeout.seconds().unwrap_or(10),
        )));
        if let (Some(user), Some(path)) = (&config.user, &config.password_file) {
            let password = String::from_utf8_lossy(&read_secret(path)?).into_owned();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer {
            place,
            transport: builder.build(),
            from,
            to,
            retries: config.retries,
        })
    }

    fn send(&self, subject: &str, text: &str) -> Result<(), String> {
        use lettre::message::header::ContentType;
        use lettre::Transport;
        let mut message = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| format!("{}: {e}", self.place))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", self.place))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let worker = Worker {
            host: String::new(),
            webhooks: Vec::new(),
            emails: Vec::new(),
            log_format: None,
            log: Box::new(std::io::sink()),
            options: SenderOptions::default(),
            stats: Arc::default(),
            reported_drops: 0,
        };
        let waits: Vec<u64> = (0..9).map(|a| worker.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(worker.backoff(u32::MAX).as_secs(), 60);
    }
}
