//! Kernel settings under `/proc/sys`: read and write one key, list the
//! interfaces a `conf/` directory has, and apply the `Sysctl`s of a policy.
//!
//! Keys use sysctl(8)'s dotted form: `net.ipv4.conf.all.rp_filter` is the
//! file `net/ipv4/conf/all/rp_filter`. As in sysctl(8), a `/` in a key
//! stands for a `.` in a file name, so the interface `eth0.100` is written
//! `net.ipv4.conf.eth0/100.rp_filter`.
//!
//! The `net.*` keys are per network namespace: the kernel shows the
//! namespace of the process that opens the file.
//!
//! ```
//! use rampart_sys::sysctl::{key_path, Sysctls};
//! assert_eq!(
//!     key_path("net.ipv4.conf.eth0/100.rp_filter"),
//!     std::path::PathBuf::from("net/ipv4/conf/eth0.100/rp_filter"),
//! );
//! // A tree that stands in for /proc/sys (tests use one).
//! let dir = std::env::temp_dir().join(format!("rampart-sysctl-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("net/ipv4")).unwrap();
//! std::fs::write(dir.join("net/ipv4/tcp_syncookies"), "1\n").unwrap();
//! let s = Sysctls::at(&dir);
//! assert_eq!(s.read("net.ipv4.tcp_syncookies").unwrap(), "1");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::{Path, PathBuf};

/// A failed read or write of one key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysctlError {
    /// The key names no file (an interface that is gone, IPv6 disabled, a
    /// setting this kernel does not have).
    #[error("{key}: no such kernel setting ({})", .path.display())]
    Missing { key: String, path: PathBuf },
    /// Writing needs root (CAP_NET_ADMIN for `net.*` in a namespace).
    #[error("{key}: permission denied writing {}; this needs root", .path.display())]
    Permission { key: String, path: PathBuf },
    /// The kernel refused the value (EINVAL) or another I/O error.
    #[error("{key}: cannot {op} {}: {source}", .path.display())]
    Io {
        key: String,
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key with an empty part, `..` or a leading dot.
    #[error("`{0}` is not a sysctl key (expected dotted words such as net.ipv4.ip_forward)")]
    BadKey(String),
}

/// The relative file of a dotted key (`.` → `/`, `/` → `.`).
pub fn key_path(key: &str) -> PathBuf {
    key.split('.').map(|part| part.replace('/', ".")).collect()
}

/// The dotted key part of an interface name (`eth0.100` → `eth0/100`).
pub fn iface_key(name: &str) -> String {
    name.replace('.', "/")
}

/// One setting changed by [`Sysctls::apply_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    /// The value before the write.
    pub previous: String,
    /// The value written.
    pub value: String,
}

/// A `/proc/sys` tree: the real one ([`Sysctls::proc`]) or a directory that
/// stands in for it in tests ([`Sysctls::at`]).
#[derive(Debug, Clone)]
pub struct Sysctls {
    root: PathBuf,
}

impl Sysctls {
    /// The kernel's `/proc/sys`, as the calling thread's namespaces see it.
    pub fn proc() -> Sysctls {
        Sysctls::at("/proc/sys")
    }

    /// A tree rooted at `root`.
    pub fn at(root: impl AsRef<Path>) -> Sysctls {
        Sysctls {
            root: root.as_ref().to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, SysctlError> {
        let bad = |p: &str| {
            let file = p.replace('/', ".");
            file.is_empty() || file == "." || file == ".."
        };
        if key.split('.').any(bad) {
            return Err(SysctlError::BadKey(key.to_string()));
        }
        Ok(self.root.join(key_path(key)))
    }

    /// The value of `key`, trimmed (multi-value keys keep their tabs).
    pub fn read(&self, key: &str) -> Result<String, SysctlError> {
        let path = self.path(key)?;
        match std::fs::read_to_string(&path) {
            Ok(v) => Ok(v.trim_end_matches('\n').trim().to_string()),
            Err(e) => Err(classify(key, "read", path, e)),
        }
    }

    /// Writes `value` to `key`.
    pub fn write(&self, key: &str, value: &str) -> Result<(), SysctlError> {
        let path = self.path(key)?;
        // /proc/sys files take the value in one write; no truncation or
        // creation (a missing key stays an error).
        let res = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{value}\n").as_bytes()));
        res.map_err(|e| classify(key, "write", path, e))
    }

    /// The entries of `net.FAMILY.conf` (`all`, `default` and one per
    /// interface), sorted; empty when the directory is missing (IPv6
    /// disabled).
    pub fn conf_entries(&self, family: &str) -> Result<Vec<String>, SysctlError> {
        let key = format!("net.{family}.conf");
        let path = self.path(&key)?;
        let rd = match std::fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(classify(&key, "list", path, e)),
        };
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| classify(&key, "list", path.clone(), e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// The keys the kernel rewrites by itself when `key` is written, which
    /// a rollback must therefore write back after `key`:
    ///
    /// * `net.ipv4.ip_forward` (= `net.ipv4.conf.all.forwarding`):
    ///   `inet_forward_change()` sets `conf.all.accept_redirects` to the
    ///   opposite (so turning forwarding off turns ICMP redirects back on,
    ///   undoing `harden`), `conf.default.forwarding` and every
    ///   interface's `forwarding`;
    /// * `net.ipv6.conf.all.forwarding`: `addrconf_forward_change()` sets
    ///   `conf.default.forwarding` and every interface's `forwarding`.
    pub fn side_effects(&self, key: &str) -> Result<Vec<String>, SysctlError> {
        let (family, mut out) = match key {
            "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding" => (
                "ipv4",
                vec!["net.ipv4.conf.all.accept_redirects".to_string()],
            ),
            "net.ipv6.conf.all.forwarding" => ("ipv6", Vec::new()),
            _ => return Ok(Vec::new()),
        };
        for e in self.conf_entries(family)? {
            let k = format!("net.{family}.conf.{}.forwarding", iface_key(&e));
            if e != "all" && k != key {
                out.push(k);
            }
        }
        if family == "ipv4" && key == "net.ipv4.conf.all.forwarding" {
            out.push("net.ipv4.ip_forward".to_string());
        }
        Ok(out)
    }

    /// Writes every `(key, value)` whose current value differs, in order,
    /// and returns what changed with the previous values (for a rollback).
    /// Stops at the first failure; the changes made before it are in the
    /// error so the caller can undo or record them.
    pub fn apply_all<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<Change>, (Vec<Change>, SysctlError)> {
        let mut done = Vec::new();
        for (key, value) in settings {
            let previous = match self.read(key) {
                Ok(v) => v,
                Err(e) => return Err((done, e)),
            };
            if previous == value {
                continue;
            }
            if let Err(e) = self.write(key, value) {
                return Err((done, e));
            }
            done.push(Change {
                key: key.to_string(),
                previous,
                value: value.to_string(),
            });
        }
        Ok(done)
    }
}

/// Applies the kernel settings of a policy (`Policy::sysctls`, e.g.
/// `net.ipv4.ip_forward = 1` for NAT) in the current network namespace.
pub fn apply_policy(
    sysctls: &[rampart_model::Sysctl],
) -> Result<Vec<Change>, (Vec<Change>, SysctlError)> {
    Sysctls::proc().apply_all(sysctls.iter().map(|s| (s.key.as_str(), s.value.as_str())))
}

fn classify(key: &str, op: &'static str, path: PathBuf, e: std::io::Error) -> SysctlError {
    let key = key.to_string();
    match e.kind() {
        std::io::ErrorKind::NotFound => SysctlError::Missing { key, path },
        std::io::ErrorKind::PermissionDenied if op == "write" => {
            SysctlError::Permission { key, path }
        }
        _ => SysctlError::Io {
            key,
            op,
            path,
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(tag: &str) -> (PathBuf, Sysctls) {
        let d = std::env::temp_dir().join(format!("rampart-sysctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for f in [
            "net/ipv4/conf/all/rp_filter",
            "net/ipv4/conf/eth0.100/rp_filter",
            "net/ipv4/ip_forward",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(p, "0\n").expect("write");
        }
        let s = Sysctls::at(&d);
        (d, s)
    }

    #[test]
    fn reads_writes_and_lists_interfaces_with_dots() {
        let (d, s) = tree("rw");
        assert_eq!(s.conf_entries("ipv4").expect("list"), ["all", "eth0.100"]);
        assert!(s.conf_entries("ipv6").expect("missing is empty").is_empty());
        let key = format!("net.ipv4.conf.{}.rp_filter", iface_key("eth0.100"));
        s.write(&key, "2").expect("write");
        assert_eq!(s.read(&key).expect("read"), "2");
        std::fs::remove_dir_all(d).expect("cleanup");
    }

    #[test]
    fn errors_name_the_key_and_never_create_files() {
        let (d, s) = tree("err");
        let e = s.write("net.ipv4.conf.eth9.rp_filter", "1").unwrap_err();
        assert!(matches!(e, SysctlError::Missing { .. }), "{e}");
        assert!(e.to_string().starts_with("net.ipv4.conf.eth9.rp_filter: "));
        assert!(!d.join("net/ipv4/conf/eth9").exists());
        assert!(matches!(
            s.read("net..ipv4").unwrap_err(),
            SysctlError::BadKey(_)
        ));
        assert!(matches!(s.read("..").unwrap_err(), SysctlError::BadKey(_)));
        assert!(matches!(
            s.read("net.//.x").unwrap_err(),
            SysctlError::BadKey(_)
        ));
        std::fs::remove_dir_all(d).expect("cleanup");
    }

    #[test]
    fn forwarding_names_the_keys_the_kernel_rewrites() {
        let (d, s) = tree("side");
        for f in [
            "net/ipv4/conf/all/forwarding",
            "net/ipv4/conf/default/forwarding",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, "0\n").expect("write");
        }
        let fx = s.side_effects("net.ipv4.ip_forward").expect("list");
        assert_eq!(
            fx,
            [
                "net.ipv4.conf.all.accept_redirects",
                "net.ipv4.conf.default.forwarding",
                "net.ipv4.conf.eth0/100.forwarding",
            ]
        );
        assert!(s
            .side_effects("net.ipv4.conf.all.rp_filter")
            .expect("none")
            .is_empty());
        assert!(s
            .side_effects("net.ipv6.conf.all.forwarding")
            .expect("no ipv6")
            .is_empty());
        std::fs::remove_dir_all(d).expect("cleanup");
    }

    #[test]
    fn apply_all_writes_only_what_differs_and_reports_previous_values() {
        let (d, s) = tree("apply");
        s.write("net.ipv4.conf.all.rp_filter", "1").expect("write");
        let changes = s
            .apply_all([
                ("net.ipv4.conf.all.rp_filter", "1"),
                ("net.ipv4.ip_forward", "1"),
            ])
            .expect("apply");
        assert_eq!(
            changes,
            [Change {
                key: "net.ipv4.ip_forward".into(),
                previous: "0".into(),
                value: "1".into()
            }]
        );
        let (done, e) = s
            .apply_all([("net.ipv4.ip_forward", "0"), ("net.nope", "1")])
            .unwrap_err();
        assert_eq!(done.len(), 1);
        assert!(matches!(e, SysctlError::Missing { .. }));
        std::fs::remove_dir_all(d).expect("cleanup");
    }
}
