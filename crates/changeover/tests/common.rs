//! Running the binary, sample bundles and bundle variants, and the two-engine test macro.

use std::path::{Path, PathBuf};
use std::process::Command;

use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts the exit code and returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains("error: "),
            "no error line: {}",
            self.stderr
        );
        assert!(
            self.stderr.contains("hint: "),
            "no hint line: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        &self.stderr
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs the binary in `dir` with `args`, without inheriting a store from the environment.
pub fn changeover_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_changeover"))
        .args(args)
        .current_dir(dir)
        .env_remove("CHANGEOVER_STORE")
        .env_remove("CHANGEOVER_SERVER")
        .env_remove("CHANGEOVER_TOKEN")
        .env_remove("RUST_LOG")
        .output()
        .expect("run changeover");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh store on one engine and a scratch directory for files.
pub struct Env {
    pub location: TestLocation,
}

impl Env {
    pub fn new(engine: Engine) -> Env {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Env {
            location: rt.block_on(TestLocation::new(engine)),
        }
    }

    pub fn dir(&self) -> &Path {
        self.location.dir()
    }

    /// Runs `changeover --store <this store> ARGS` in the scratch directory.
    pub fn run(&self, args: &[&str]) -> Run {
        let store = self.location.arg();
        let mut all = vec!["--store", store.as_str()];
        all.extend_from_slice(args);
        changeover_in(self.dir(), &all)
    }

    /// Writes a file into the scratch directory and returns its path as text.
    pub fn write(&self, name: &str, content: &[u8]) -> String {
        let path = self.dir().join(name);
        std::fs::write(&path, content).expect("write fixture");
        path.display().to_string()
    }

    /// Versions in the catalog (of the sample platform).
    pub fn versions(&self) -> Vec<String> {
        let list = self.run(&["version", "list", "--json"]).json();
        list.as_array()
            .expect("list is an array")
            .iter()
            .map(|e| e["version"].as_str().expect("version").to_owned())
            .collect()
    }
}

/// The repository's sample bundles.
pub fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bundles/sample")
        .join(name)
}

pub fn sample(name: &str) -> String {
    std::fs::read_to_string(sample_path(name)).expect("sample bundle")
}

/// `text` with `from` replaced by `to`; panics when `from` is absent (the fixture drifted).
#[track_caller]
pub fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "fixture does not contain {from:?}");
    text.replacen(from, to, 1)
}

/// A sample manifest without its inline `config:` section (a ZIP's values live in
/// values.yaml).
pub fn manifest_without_config(name: &str) -> String {
    let text = sample(name);
    let start = text.find("config:\n").expect("config section");
    let end = text.find("applications:\n").expect("applications section");
    format!("{}{}", &text[..start], &text[end..])
}

/// A deflated ZIP of (name, content) entries.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer.start_file(*name, options).expect("start entry");
        writer.write_all(content).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// Declares `NAME::sqlite` and `NAME::postgres` running `fn NAME(env: &Env)`.
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&crate::common::Env::new(changeover_store::Engine::Sqlite));
            }
            #[test]
            fn postgres() {
                super::$name(&crate::common::Env::new(changeover_store::Engine::Postgres));
            }
        }
    )+};
}
pub(crate) use on_both_stores;
