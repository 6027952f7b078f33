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
