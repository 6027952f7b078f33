//! Reading the files a policy names: included policy fragments and set
//! files, through a [`Loader`] so that tests and fuzzers need no filesystem.

use std::path::{Path, PathBuf};

/// Where `include` and set `file` paths are read from.
pub trait Loader {
    /// The text of the file at `path` (already resolved against the
    /// including file's directory).
    fn read(&mut self, path: &str) -> Result<String, String>;

    /// The entries (file names, not paths) of a directory, for `include`
    /// patterns with `*` or `?`. The default refuses globbing.
    fn list(&mut self, dir: &str) -> Result<Vec<String>, String> {
        Err(format!(
            "cannot list directory `{dir}`: this loader does not support patterns"
        ))
    }
}

/// Reads from the real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsLoader;

/// The largest file the loader reads (policy fragments and set files).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl Loader for FsLoader {
    fn read(&mut self, path: &str) -> Result<String, String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(format!("file is larger than {MAX_FILE_BYTES} bytes"));
        }
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }

    fn list(&mut self, dir: &str) -> Result<Vec<String>, String> {
        let dir = if dir.is_empty() { "." } else { dir };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            if let Some(name) = entry.file_name().to_str() {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }
}

/// A closure `path -> text` is a loader without pattern support.
impl<F> Loader for F
where
    F: FnMut(&str) -> Result<String, String>,
{
    fn read(&mut self, path: &str) -> Result<String, String> {
        self(path)
    }
}

/// `rel` resolved against the directory of `base` (absolute paths stay).
pub(crate) fn resolve(base: &str, rel: &str) -> String {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() {
        return rel.to_string();
    }
    let dir = Path::new(base).parent().unwrap_or(Path::new(""));
    let joined: PathBuf = dir.join(rel_path);
    joined.to_string_lossy().into_owned()
}

/// Expands a path whose last component may hold `*` / `?` wildcards into
/// the sorted matching paths. Wildcards in directory components are refused.
pub(crate) fn expand(loader: &mut dyn Loader, path: &str) -> Result<Vec<String>, String> {
    let p = Path::new(path);
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = p.parent().map(|d| d.to_string_lossy().into_owned());
    let dir = dir.unwrap_or_default();
    if dir.contains(['*', '?']) {
        return Err("wildcards are allowed only in the file name, not in directories".into());
    }
    if !name.contains(['*', '?']) {
        return Ok(vec![path.to_string()]);
    }
    let mut names: Vec<String> = loader
        .list(&dir)?
        .into_iter()
        .filter(|n| !n.starts_with('.') && wildcard(name.as_bytes(), n.as_bytes()))
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|n| {
            if dir.is_empty() {
                n
            } else {
                Path::new(&dir).join(n).to_string_lossy().into_owned()
            }
        })
        .collect())
}

/// `*` matches any run, `?` one byte. Iterative, no recursion blow-up.
fn wildcard(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == b'?' || c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard(b"*.toml", b"a.toml"));
        assert!(wildcard(b"*.toml", b".toml"));
        assert!(!wildcard(b"*.toml", b"a.toml~"));
        assert!(wildcard(b"a?c*", b"abcdef"));
        assert!(!wildcard(b"a?c", b"ac"));
    }

    #[test]
    fn resolves_relative_to_the_including_file() {
        assert_eq!(
            resolve("/etc/rampart/policy.toml", "local.d/x.toml"),
            "/etc/rampart/local.d/x.toml"
        );
        assert_eq!(resolve("policy.toml", "b.txt"), "b.txt");
        assert_eq!(resolve("a/policy.toml", "/abs"), "/abs");
    }
}
