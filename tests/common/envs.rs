//! Envs directories of a test's own: a temp directory `ce --envs-dir` is pointed at, holding
//! committed env files as they are or edited, or env files a test writes whole.

use std::path::Path;

use tempfile::TempDir;

/// The text of the committed `envs/<name>.toml`.
pub fn committed(name: &str) -> String {
    let path = super::envs_dir().join(format!("{name}.toml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A temp envs directory, removed when dropped.
pub struct EnvDir {
    dir: TempDir,
}

impl EnvDir {
    /// An empty envs directory.
    pub fn new() -> EnvDir {
        EnvDir {
            dir: TempDir::new().expect("temp dir"),
        }
    }

    /// Its path, for `--envs-dir`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its path as text, for argument lists of `&str`.
    pub fn arg(&self) -> &str {
        self.path().to_str().expect("temp paths are UTF-8")
    }

    /// Writes `<dir>/<name>.toml`.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(format!("{name}.toml")), text).expect("write env file");
    }

    /// Writes `<dir>/<name>.toml`: the committed env of that name passed through `edit`.
    pub fn write_committed(&self, name: &str, edit: impl Fn(String) -> String) {
        self.write(name, &edit(committed(name)));
    }
}

impl Default for EnvDir {
    fn default() -> Self {
        Self::new()
    }
}
