//! `rampart_daemon::alert` against an HTTP server and an SMTP sink run by
//! the test on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_daemon::alert::{signature, AlertSender, Alerts, SenderOptions};
use rampart_guard::alert::{AlertConfig, AlertEvent, Batch, Batcher, EventKind};

#[derive(Debug)]
struct Request {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request { headers, body })
}

/// Answers each request with the next status of `statuses` (then 200) and
/// reports every request on the channel.
fn http_server(statuses: Vec<u16>) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Some(request) = read_request(&mut stream) else {
                continue;
            };
            let status = statuses.next().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if tx.send(request).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

fn batch(n: u32) -> Batch {
    let mut batcher = Batcher::new(&AlertConfig::default());
    for i in 0..n {
        let net = format!("198.51.100.{}", i % 200).parse().expect("address");
        batcher.push(
            1_700_000_000,
            AlertEvent::new(1_700_000_000, EventKind::Ban, Some(net), "sshd", "failures"),
        );
    }
    batcher.flush().expect("a batch")
}

fn fast() -> SenderOptions {
    SenderOptions {
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

fn config(text: &str) -> AlertConfig {
    AlertConfig::from_toml(text).expect("valid alert config")
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn issue6_alert_webhook_is_signed_and_retried_after_500s() {
    let (url, requests) = http_server(vec![500, 503]);
    let c = config(&format!(
        "[[webhook]]\nurl = \"{url}\"\nsecret = \"s3cret\"\nretries = 3"
    ));
    let sender =
        AlertSender::start_with(&c, "web1", fast(), Box::new(std::io::sink())).expect("sender");
    assert!(sender.send(batch(3)));
    let stats = sender.shutdown();
    let got: Vec<Request> = requests.try_iter().collect();
    assert_eq!(got.len(), 3, "two 500s, then 200");
    for r in &got {
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            r.header("X-Rampart-Signature"),
            Some(signature(b"s3cret", &r.body).as_str())
        );
        assert_eq!(r.body, got[0].body, "the same body each attempt");
    }
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(body["host"], "web1");
    assert_eq!(body["version"], 1);
    assert_eq!(body["total"], 3);
    assert_eq!(body["counts"]["ban"], 3);
    assert_eq!(body["events"][0]["net"], "198.51.100.0");
    assert_eq!(body["jails"][0]["name"], "sshd");
    assert_eq!(body["dropped_batches"], 0);
    assert_eq!((stats.delivered, stats.failed, stats.retries), (1, 0, 2));
}

#[test]
fn issue6_alert_webhook_gives_up_and_does_not_retry_client_errors() {
    let (url, requests) = http_server(vec![500, 500, 500, 400]);
    let c = config(&format!("[[webhook]]\nurl = \"{url}\"\nretries = 2"));
    let sender =
        AlertSender::start_with(&c, "h", fast(), Box::new(std::io::sink())).expect("sender");
    sender.send(batch(1));
    sender.send(batch(1));
    let stats = sender.shutdown();
    let got: Vec<Request> = requests.try_iter().collect();
    assert_eq!(
        got.len(),
        4,
        "3 attempts for the first batch, 1 for the second"
    );
    assert!(got[0].header("X-Rampart-Signature").is_none());
    assert_eq!((stats.delivered, stats.failed), (0, 2));
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 400")),
        "{stats:?}"
    );
}

#[test]
fn issue6_alert_a_flood_makes_one_message() {
    let (url, requests) = http_server(vec![]);
    let c = config(&format!(
        "window = 10\nmax_events = 100\n[[webhook]]\nurl = \"{url}\""
    ));
    let sender =
        AlertSender::start_with(&c, "h", fast(), Box::new(std::io::sink())).expect("sender");
    let mut alerts = Alerts::new(&c, sender);
    let t = 1_700_000_000;
    for i in 0..1000u32 {
        let net = format!("203.0.{}.{}", i / 250, i % 250)
            .parse()
            .expect("address");
        alerts.on_event(
            t + u64::from(i) / 100,
            AlertEvent::new(t, EventKind::Ban, Some(net), "sshd", "x"),
        );
    }
    assert_eq!(alerts.deadline(), Some(t + 10));
    alerts.tick(t + 10);
    let stats = alerts.shutdown();
    let got: Vec<Request> = requests.try_iter().collect();
    assert_eq!(got.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(body["total"], 1000);
    assert_eq!(body["events"].as_array().map(Vec::len), Some(100));
    assert_eq!(body["omitted"], 900);
    assert_eq!(body["prefixes"][0]["count"], 250);
    assert_eq!(stats.delivered, 1);
}

#[test]
fn issue6_alert_queue_overflow_is_counted_and_reported() {
    // A server that holds the first request until told.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel::<Request>();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let Some(request) = read_request(&mut stream) else {
                continue;
            };
            let _ = seen_tx.send(request);
            if n == 0 {
                let _ = release_rx.recv();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    let c = config(&format!(
        "queue = 2\n[[webhook]]\nurl = \"{url}\"\ntimeout = 30"
    ));
    let sender =
        AlertSender::start_with(&c, "h", fast(), Box::new(std::io::sink())).expect("sender");
    assert!(sender.send(batch(1)));
    // The first batch is being sent (the server holds it): two more fill
    // the queue, the next three are dropped.
    let first = seen_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("first request");
    let accepted = (0..5).filter(|_| sender.send(batch(2))).count();
    assert_eq!(accepted, 2);
    assert_eq!(sender.stats().dropped_batches, 3);
    release_tx.send(()).expect("release");
    let stats = sender.shutdown();
    let rest: Vec<Request> = seen_rx.try_iter().collect();
    assert_eq!(rest.len(), 2);
    let body: serde_json::Value = serde_json::from_slice(&first.body).expect("JSON");
    assert_eq!(body["dropped_batches"], 0);
    let body: serde_json::Value = serde_json::from_slice(&rest[0].body).expect("JSON");
    assert_eq!(
        body["dropped_batches"], 3,
        "the next message says what was dropped"
    );
    assert_eq!((stats.delivered, stats.dropped_batches), (3, 3));
}

#[test]
fn issue6_alert_log_lines_json_and_text() {
    let buffer = Buffer::default();
    let c = config("[log]\nformat = \"json\"");
    let sender =
        AlertSender::start_with(&c, "h", fast(), Box::new(buffer.clone())).expect("sender");
    sender.send(batch(2));
    sender.shutdown();
    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 1);
    let line: serde_json::Value = serde_json::from_str(text.trim()).expect("a JSON line");
    assert_eq!(line["total"], 2);

    let buffer = Buffer::default();
    let c = config("[log]\nformat = \"text\"");
    let sender =
        AlertSender::start_with(&c, "web1", fast(), Box::new(buffer.clone())).expect("sender");
    sender.send(batch(2));
    sender.shutdown();
    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    assert_eq!(
        text,
        "rampart guard alert on web1: 2 bans (sshd 2); top address 198.51.100.0 (1)\n"
    );
}

/// A minimal SMTP server: accepts one message and returns it.
fn smtp_sink() -> (u16, mpsc::Receiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut out = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        let mut commands = Vec::new();
        let mut data = String::new();
        let _ = write!(out, "220 sink ESMTP\r\n");
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let upper = line.to_ascii_uppercase();
            commands.push(line.trim_end().to_string());
            if upper.starts_with("EHLO") {
                let _ = write!(out, "250-sink\r\n250 8BITMIME\r\n");
            } else if upper.starts_with("DATA") {
                let _ = write!(out, "354 go\r\n");
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                let _ = write!(out, "250 queued\r\n");
            } else if upper.starts_with("QUIT") {
                let _ = write!(out, "221 bye\r\n");
                break;
            } else {
                let _ = write!(out, "250 ok\r\n");
            }
        }
        let _ = tx.send((commands, data));
    });
    (port, rx)
}

#[test]
fn issue6_alert_email_over_smtp() {
    let (port, rx) = smtp_sink();
    let c = config(&format!(
        "[[email]]\nserver = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"guard@example.net\"\nto = [\"ops@example.net\", \"oncall@example.net\"]"
    ));
    let sender =
        AlertSender::start_with(&c, "web1", fast(), Box::new(std::io::sink())).expect("sender");
    sender.send(batch(5));
    let stats = sender.shutdown();
    let (commands, data) = rx.recv_timeout(Duration::from_secs(10)).expect("a message");
    assert!(
        commands
            .iter()
            .any(|c| c == "MAIL FROM:<guard@example.net>"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c == "RCPT TO:<ops@example.net>"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c == "RCPT TO:<oncall@example.net>"),
        "{commands:?}"
    );
    assert!(
        data.contains("Subject: rampart guard on web1: 5 bans (sshd 5)"),
        "{data}"
    );
    assert!(data.contains("top prefixes:"), "{data}");
    assert!(data.contains("198.51.100.0/24"), "{data}");
    assert_eq!((stats.delivered, stats.failed), (1, 0), "{stats:?}");
}

#[test]
fn issue6_alert_unreadable_secret_file_is_named() {
    let c = config(
        "[[webhook]]\nurl = \"http://127.0.0.1:9/\"\nsecret_file = \"/nonexistent/rampart.secret\"",
    );
    let err = AlertSender::start(&c, "h").expect_err("missing file");
    assert!(
        err.to_string().starts_with("/nonexistent/rampart.secret: "),
        "{err}"
    );
}
