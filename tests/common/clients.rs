//! Real clients built from this repository's test sources: the Java programs of tests/java
//! (Maven, offline) and the Go programs of tests/go (offline module cache). `.ci/run` fetches
//! their dependencies; a build that cannot find them fails naming that step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use super::require_tool;

/// The clients' INFO lines (their whole config) would bury a failure's output.
pub const QUIET_JAVA_LOG: &str = "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn";

/// A directory of the repository.
pub fn repo_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(sub)
}

/// Builds tests/java offline against Kafka `version` into `target` (3.x) or `target-kafka4`,
/// checks that each of `jars` (`kafka-clients`, `kafka-streams`) is among its libraries, and
/// returns the class path. Each version builds once per test process.
pub fn java_classpath(version: &str, jars: &[&str]) -> String {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let dir = repo_dir("tests/java");
    let build = dir.join(if version.starts_with('3') {
        "target"
    } else {
        "target-kafka4"
    });
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|v| v == version) {
        let mvn = require_tool("mvn");
        require_tool("java");
        let out = Command::new(mvn)
            .args(["-q", "-o", "-f"])
            .arg(dir.join("pom.xml"))
            .arg(format!("-Dkafka.version={version}"))
            .arg(format!("-Dbuild.dir={}", build.display()))
            .args(["package", "-DskipTests"])
            .output()
            .expect("run mvn");
        assert!(
            out.status.success(),
            "mvn -o package failed for Kafka {version} (fetch the dependencies as .ci/run does):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        built.push(version.to_string());
    }
    let lib = build.join("lib");
    for jar in jars {
        let p = lib.join(format!("{jar}-{version}.jar"));
        assert!(p.is_file(), "{} is missing", p.display());
    }
    format!("{}:{}/*", build.join("classes").display(), lib.display())
}

/// Runs a Java main class to completion and returns its stdout; fails the test on a non-zero exit.
pub fn java(cp: &str, class: &str, args: &[&str]) -> String {
    let out = Command::new("java")
        .args(["-cp", cp, QUIET_JAVA_LOG, class])
        .args(args)
        .output()
        .expect("run java");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "java {class} {args:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds the Go program `tests/go/<name>` once per test process, offline (`.ci/run` downloads
/// the modules), and returns its path.
pub fn go_program(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bin = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let go = require_tool("go");
        let out = Command::new(go)
            .current_dir(repo_dir("tests/go"))
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=readonly")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(format!("./{name}"))
            .output()
            .expect("run go build");
        assert!(
            out.status.success(),
            "go build ./{name} failed (download the modules as .ci/run does: cd tests/go && go mod download):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        built.push(name.to_string());
    }
    bin
}

/// Runs a program that prints one JSON line and returns it; fails the test on a non-zero exit
/// or output that is not JSON.
pub fn run_json(bin: &Path, args: &[&str]) -> Value {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name} {args:?} printed {stdout:?}: {e}"))
}
