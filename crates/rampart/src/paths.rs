//! Where rampart keeps things on the host.

use std::path::{Path, PathBuf};

/// The state directory when neither `--state-dir` nor `RAMPART_STATE_DIR`
/// names one.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/rampart";

/// The policy the boot unit (`dist/rampart.service`) applies.
pub const BOOT_POLICY: &str = "/etc/rampart/policy.toml";

/// `--state-dir`, else `$RAMPART_STATE_DIR`, else [`DEFAULT_STATE_DIR`].
pub fn state_dir(arg: Option<&Path>) -> PathBuf {
    match arg {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("RAMPART_STATE_DIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), PathBuf::from),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, creating the directory; a crash leaves the old file or the
/// new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
