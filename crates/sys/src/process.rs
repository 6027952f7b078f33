//! What `rampart apply --confirm` needs from the OS: a helper that leaves
//! the caller's session, a lock file, and the environment of an ancestor.

use std::fs::File;
use std::path::Path;

/// Makes the calling process the leader of a new session without a
/// controlling terminal (`setsid(2)`), so that the end of the SSH session
/// that started it (hang-up of its terminal) does not reach it. Fails when
/// the caller already leads a process group; a freshly spawned child does
/// not.
pub fn leave_session() -> std::io::Result<()> {
    rustix::process::setsid()?;
    Ok(())
}

/// An exclusive lock on a file, held until the value is dropped (the
/// kernel also releases it when the process dies, so a crash never leaves
/// the state locked).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Opens (creating it) and locks `path` exclusively, waiting for a
/// holder to finish.
pub fn lock_exclusive(path: &Path) -> std::io::Result<Lock> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(Lock { _file: file })
}

/// The value of `var` in the environment of this process or of its
/// nearest ancestor that has it (read from `/proc/PID/environ`), with that
/// ancestor's pid. `sudo` resets the environment, so `SSH_CONNECTION` is
/// usually only in the login shell above it.
pub fn env_of_ancestors(var: &str) -> Option<(u32, String)> {
    let mut pid = std::process::id();
    for _ in 0..64 {
        if let Some(v) = environ_var(pid, var) {
            return Some((pid, v));
        }
        pid = parent_of(pid)?;
        if pid <= 1 {
            return None;
        }
    }
    None
}

fn environ_var(pid: u32, var: &str) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    bytes.split(|&b| b == 0).find_map(|kv| {
        let kv = std::str::from_utf8(kv).ok()?;
        let (k, v) = kv.split_once('=')?;
        (k == var).then(|| v.to_string())
    })
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_and_environment_of_this_process() {
        assert!(parent_of(std::process::id()).is_some_and(|p| p > 0));
        // PATH is in nearly every environment; an unknown name is in none.
        assert!(env_of_ancestors("RAMPART_NO_SUCH_VARIABLE_X").is_none());
    }

    #[test]
    fn lock_is_exclusive_per_open_file() {
        let dir = std::env::temp_dir().join(format!("rampart-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("lock");
        let l = lock_exclusive(&p).expect("first lock");
        let f = File::open(&p).expect("open");
        assert!(
            rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err()
        );
        drop(l);
        assert!(
            rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
