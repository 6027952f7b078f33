//! Running code inside a network namespace: a helper thread enters the
//! namespace with `setns(2)` (which changes only the calling thread), runs
//! the closure and ends, so the caller's own namespace never changes.

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use std::path::Path;

/// Runs `f` on a new thread inside the network namespace at `path`
/// (`/run/netns/NAME`, as `ip netns add` creates it).
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let file = std::fs::File::open(path)?;
    let handle = std::thread::spawn(move || -> std::io::Result<T> {
        move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&file),
            Some(LinkNameSpaceType::Network),
        )?;
        Ok(f())
    });
    handle
        .join()
        .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}

/// [`run_in`] for a namespace created by `ip netns add NAME`.
pub fn run_in_named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    run_in(&Path::new("/run/netns").join(name), f)
}

/// A network namespace created with `ip netns add NAME` (iproute2) and
/// deleted with `ip netns del NAME` when dropped, so an error or a panic
/// on the way cleans up too. Devices inside (a veth end) go with it.
#[derive(Debug)]
pub struct Scratch {
    name: String,
}

impl Scratch {
    /// Creates the namespace `name` (`/run/netns/NAME`).
    pub fn create(name: &str) -> std::io::Result<Scratch> {
        ip(&["netns", "add", name])?;
        Ok(Scratch {
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS...`.
    pub fn ip(&self, args: &[&str]) -> std::io::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Makes this namespace the hub of a /24: bridge `br0` with
    /// `PREFIX.1`, and one veth per peer (`v0`, `v1`, ... here, `eth0` in
    /// the peer) with `PREFIX.2`, `PREFIX.3`, ... in peer order; every link
    /// up, loopback too. `prefix` is the first three octets (`10.67.0`).
    pub fn bridge_peers(&self, prefix: &str, peers: &[&Scratch]) -> std::io::Result<()> {
        self.ip(&["link", "set", "lo", "up"])?;
        self.ip(&["link", "add", "br0", "type", "bridge"])?;
        self.ip(&["addr", "add", &format!("{prefix}.1/24"), "dev", "br0"])?;
        self.ip(&["link", "set", "br0", "up"])?;
        for (i, ns) in peers.iter().enumerate() {
            let dev = format!("v{i}");
            self.ip(&[
                "link",
                "add",
                &dev,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns.name(),
            ])?;
            self.ip(&["link", "set", &dev, "master", "br0"])?;
            self.ip(&["link", "set", &dev, "up"])?;
            ns.ip(&["link", "set", "lo", "up"])?;
            let addr = format!("{prefix}.{}/24", i + 2);
            ns.ip(&["addr", "add", &addr, "dev", "eth0"])?;
            ns.ip(&["link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// [`run_in_named`] for this namespace.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<T> {
        run_in_named(&self.name, f)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = delete_named(&self.name);
    }
}

/// Runs `ip ARGS...`; a failure carries ip's own message.
pub fn ip(args: &[&str]) -> std::io::Result<()> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run `ip` (iproute2): {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The names under `/run/netns` (namespaces made by `ip netns add`).
pub fn list_named() -> std::io::Result<Vec<String>> {
    match std::fs::read_dir("/run/netns") {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// `ip netns del NAME`.
pub fn delete_named(name: &str) -> std::io::Result<()> {
    ip(&["netns", "del", name])
}

/// Whether the process runs with effective user id 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
