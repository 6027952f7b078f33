//! The control socket of `rampart guard run`: a Unix stream socket
//! (default [`DEFAULT_SOCKET`]; its directory mode 0700, the socket 0600)
//! that only root may use — the file modes, and the peer's uid checked
//! with `SO_PEERCRED` on every connection. The protocol is JSON lines:
//! one request per line, one answer per line.
//!
//! ```text
//! {"cmd":"ban","net":"198.51.100.7","for":"1h","reason":"scanner"}
//! {"cmd":"unban","net":"198.51.100.0/24"}
//! {"cmd":"bans"}
//! ```
//!
//! Answers are `{"ok":true, ...}` or `{"ok":false,"error":"..."}`. A bad
//! request (not JSON, unknown command or key, a bad address or duration,
//! a line over [`MAX_REQUEST`] bytes) gets an error answer and never
//! disturbs the daemon.
//!
//! ```
//! use rampart_daemon::control::{parse_request, Request};
//! let r = parse_request(br#"{"cmd":"ban","net":"192.0.2.7","for":"1h"}"#).expect("valid");
//! assert!(matches!(r, Request::Ban { duration: Some(3600), .. }));
//! let e = parse_request(br#"{"cmd":"ban","net":"192.0.2.300"}"#).expect_err("bad address");
//! assert!(e.contains("192.0.2.300"), "{e}");
//! ```

use rampart_guard::{Duration as GuardDuration, Net};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/rampart/guard.sock";
/// Longest request line accepted.
pub const MAX_REQUEST: usize = 16 * 1024;

/// A request, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ban `net` for `duration` seconds (`None`: forever).
    Ban {
        net: Net,
        duration: Option<u64>,
        reason: String,
    },
    Unban {
        net: Net,
    },
    /// The active bans.
    Bans,
}

/// The wire form of a request.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    cmd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    net: Option<String>,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Parses one request line. Errors are plain text for the answer.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let w: Wire = serde_json::from_slice(line).map_err(|e| format!("bad request: {e}"))?;
    let net = |w: &Wire| -> Result<Net, String> {
        let text = w
            .net
            .as_deref()
            .ok_or_else(|| format!("`{}` needs `net` (an address or a network)", w.cmd))?;
        text.trim()
            .parse::<Net>()
            .map_err(|e| format!("`{text}` is not an address or network: {e}"))
    };
    let only = |w: &Wire, allowed: &[&str]| -> Result<(), String> {
        for (k, present) in [
            ("net", w.net.is_some()),
            ("for", w.duration.is_some()),
            ("reason", w.reason.is_some()),
        ] {
            if present && !allowed.contains(&k) {
                return Err(format!("`{}` takes no `{k}`", w.cmd));
            }
        }
        Ok(())
    };
    match w.cmd.as_str() {
        "ban" => {
            only(&w, &["net", "for", "reason"])?;
            let duration = match w.duration.as_deref() {
                None => None,
                Some(d) => {
                    let v = GuardDuration::parse(d).map_err(|e| format!("`for`: {e}"))?;
                    match v.seconds() {
                        Some(0) => return Err("`for`: a ban must last at least 1 s".into()),
                        s => s,
                    }
                }
            };
            let reason = w.reason.clone().unwrap_or_default();
            if reason.len() > 1024 {
                return Err("`reason` is longer than 1024 bytes".into());
            }
            Ok(Request::Ban {
                net: net(&w)?,
                duration,
                reason,
            })
        }
        "unban" => {
            only(&w, &["net"])?;
            Ok(Request::Unban { net: net(&w)? })
        }
        "bans" => {
            only(&w, &[])?;
            Ok(Request::Bans)
        }
        other => Err(format!("unknown command `{other}` (ban, unban, bans)")),
    }
}

/// The request line for a request (what the client sends).
pub fn request_line(r: &Request) -> String {
    let w = match r {
        Request::Ban {
            net,
            duration,
            reason,
        } => Wire {
            cmd: "ban".into(),
            net: Some(net.to_string()),
            duration: duration.map(|d| d.to_string()),
            reason: (!reason.is_empty()).then(|| reason.clone()),
        },
        Request::Unban { net } => Wire {
            cmd: "unban".into(),
            net: Some(net.to_string()),
            duration: None,
            reason: None,
        },
        Request::Bans => Wire {
            cmd: "bans".into(),
            net: None,
            duration: None,
            reason: None,
        },
    };
    serde_json::to_string(&w).unwrap_or_default()
}

/// One active ban as `rampart bans` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanInfo {
    pub net: String,
    pub jail: String,
    pub source: String,
    pub reason: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// Seconds since the Unix epoch; `None`: permanent.
    pub until: Option<u64>,
    pub hits: u32,
    /// Earlier bans that made this one longer.
    pub count: u32,
    /// Networks folded into this prefix ban.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// What the ban drops: `all`, or the jail's ports (`tcp/22`,
    /// `tcp/80,443`).
    #[serde(default = "all_ports")]
    pub ports: String,
}

fn all_ports() -> String {
    "all".to_string()
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was done (`banned 192.0.2.7 until ...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bans: Option<Vec<BanInfo>>,
}

impl Response {
    pub fn error(e: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(e.into()),
            done: Vec::new(),
            bans: None,
        }
    }
}

/// A request from a client, with where its answer goes.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub reply: Sender<Response>,
}

/// Binds the socket: creates its directory (mode 0700), replaces a stale
/// socket file, sets the socket's mode to 0600.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    if path.exists() {
        // A daemon still listening there is an error; a stale file is not.
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{}: another rampart guard is listening", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves the listener on its own threads (one per connection) until the
/// process ends: every valid request is handed to the run loop through
/// `calls` and its answer written back; bad requests are answered here.
pub fn serve(listener: UnixListener, calls: Sender<Call>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let calls = calls.clone();
            std::thread::spawn(move || {
                let _ = handle(conn, &calls);
            });
        }
    });
}

fn peer_is_root(conn: &UnixStream) -> bool {
    rustix::net::sockopt::socket_peercred(conn).is_ok_and(|c| c.uid.is_root())
}

fn handle(conn: UnixStream, calls: &Sender<Call>) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    if !peer_is_root(&conn) {
        let r = Response::error("permission denied: only root may use the guard's socket");
        writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default())?;
        return Ok(());
    }
    conn.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_REQUEST as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let too_long = line.len() > MAX_REQUEST && !line.ends_with(b"\n");
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let answer = if too_long {
            // Skip the rest of the line, answer once.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            Response::error(format!("request longer than {MAX_REQUEST} bytes"))
        } else if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            match parse_request(body) {
                Err(e) => Response::error(e),
                Ok(request) => {
                    let (tx, rx) = std::sync::mpsc::channel();
                    if calls.send(Call { request, reply: tx }).is_err() {
                        Response::error("the daemon is shutting down")
                    } else {
                        rx.recv_timeout(Duration::from_secs(60))
                            .unwrap_or_else(|_| Response::error("no answer from the daemon"))
                    }
                }
            }
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&answer).unwrap_or_default()
        )?;
    }
}

/// Sends one request to the daemon at `path` and reads its answer.
pub fn call(path: &Path, request: &Request) -> Result<Response, crate::Error> {
    let io = |e: std::io::Error| crate::Error::Control {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut s = UnixStream::connect(path).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(90)))
        .map_err(io)?;
    // The daemon may answer (a refusal) and close before reading: the
    // answer counts more than a failed write.
    let sent = writeln!(s, "{}", request_line(request));
    let mut line = String::new();
    let read = BufReader::new(&s).read_line(&mut line);
    if line.is_empty() {
        sent.map_err(io)?;
        read.map_err(io)?;
    }
    serde_json::from_str(&line).map_err(|e| crate::Error::Control {
        path: path.display().to_string(),
        message: format!("bad answer from the daemon: {e}"),
    })
}

/// The calls waiting in `rx`, without blocking.
pub fn pending(rx: &Receiver<Call>) -> Vec<Call> {
    rx.try_iter().collect()
}

/// The socket path as given or the default.
pub fn socket_path(p: Option<&Path>) -> PathBuf {
    p.map_or_else(|| PathBuf::from(DEFAULT_SOCKET), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_parse_and_bad_ones_are_named() {
        assert_eq!(parse_request(br#"{"cmd":"bans"}"#), Ok(Request::Bans));
        assert_eq!(
            parse_request(br#"{"cmd":"unban","net":"2001:db8::/64"}"#),
            Ok(Request::Unban {
                net: "2001:db8::/64".parse().expect("net")
            })
        );
        let r = parse_request(br#"{"cmd":"ban","net":"192.0.2.7","reason":"x"}"#).expect("ok");
        assert!(matches!(r, Request::Ban { duration: None, .. }));
        for (bad, want) in [
            (&br#"{"cmd":"ban"}"#[..], "needs `net`"),
            (br#"{"cmd":"bans","net":"1.2.3.4"}"#, "takes no `net`"),
            (br#"{"cmd":"nuke"}"#, "unknown command `nuke`"),
            (
                br#"{"cmd":"ban","net":"1.2.3.4","for":"3 fortnights"}"#,
                "`for`",
            ),
            (
                br#"{"cmd":"ban","net":"1.2.3.4","for":"0"}"#,
                "at least 1 s",
            ),
            (
                br#"{"cmd":"ban","net":"1.2.3.4","extra":1}"#,
                "unknown field `extra`",
            ),
            (b"not json", "bad request"),
            (b"\xff\xfe", "bad request"),
        ] {
            let e = parse_request(bad).expect_err(&String::from_utf8_lossy(bad));
            assert!(e.contains(want), "{e}");
        }
        let long = vec![b' '; MAX_REQUEST + 1];
        assert!(parse_request(&long).is_err());
    }

    #[test]
    fn a_request_line_reads_back() {
        for r in [
            Request::Bans,
            Request::Unban {
                net: "10.0.0.0/8".parse().expect("net"),
            },
            Request::Ban {
                net: "192.0.2.1".parse().expect("net"),
                duration: Some(90),
                reason: "by hand".into(),
            },
        ] {
            assert_eq!(parse_request(request_line(&r).as_bytes()), Ok(r));
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_request(&bytes);
        }

        #[test]
        fn random_json_shapes_never_panic(cmd in "(ban|unban|bans|x)", net in ".{0,40}", d in ".{0,12}") {
            let line = serde_json::json!({"cmd": cmd, "net": net, "for": d}).to_string();
            let _ = parse_request(line.as_bytes());
        }
    }
}
