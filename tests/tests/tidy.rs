//! Invariants of the source tree itself (docs/ARCHITECTURE.md, "Invariants"), checked by
//! reading the files, the way rust-analyzer's `tidy` test does:
//! - the crate graph is the one the architecture describes (`ocf` imports nothing of the
//!   project);
//! - every external call of the product goes through the one bounded runner
//!   (`ocf/src/command.rs`), and every command a test or bench runs goes through
//!   `ganesha_testkit::TestCommand` (`testkit/src/command.rs`), which uses that runner;
//! - code and docs name only files that are in the repository, and no issue numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The workspace's crates: (directory, package name).
const CRATES: [(&str, &str); 7] = [
    ("ocf", "ocf"),
    ("agents", "ganesha-agents"),
    ("georep", "georep"),
    ("setup", "ganesha-ha"),
    ("lab", "ganesha-lab"),
    ("testkit", "ganesha-testkit"),
    ("tests", "ganesha-e2e"),
];

/// Which project crates each crate may use as a normal dependency: the graph of
/// docs/ARCHITECTURE.md ("Code map"). Dev-dependencies may use anything below them.
const ALLOWED: [(&str, &[&str]); 7] = [
    ("ocf", &[]),
    ("ganesha-agents", &["ocf", "georep"]),
    ("georep", &["ocf"]),
    ("ganesha-ha", &["ocf", "ganesha-agents", "georep"]),
    ("ganesha-lab", &["ocf", "ganesha-agents", "ganesha-ha"]),
    ("ganesha-testkit", &["ocf"]),
    (
        "ganesha-e2e",
        &[
            "ocf",
            "ganesha-agents",
            "ganesha-ha",
            "ganesha-lab",
            "ganesha-testkit",
        ],
    ),
];

/// The project crates a Cargo.toml section names (`name.workspace = true` or `name = {...}`).
fn project_deps(manifest: &str, section: &str) -> Vec<String> {
    let mut in_section = false;
    let mut deps = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == section;
            continue;
        }
        if !in_section {
            continue;
        }
        let name = line
            .split(['.', '=', ' '])
            .next()
            .unwrap_or_default()
            .trim();
        if CRATES.iter().any(|(_, package)| *package == name) {
            deps.push(name.to_string());
        }
    }
    deps
}

#[test]
fn the_crate_graph_is_the_documented_one() {
    let root = root();
    let mut wrong = Vec::new();
    for (dir, package) in CRATES {
        let manifest = root.join(dir).join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let allowed = ALLOWED
            .iter()
            .find(|(p, _)| *p == package)
            .map(|(_, a)| *a)
            .unwrap_or_default();
        for dep in project_deps(&text, "[dependencies]") {
            if !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{package} depends on {dep}"));
            }
        }
    }
    let ocf = fs::read_to_string(root.join("ocf/Cargo.toml")).unwrap();
    for section in [
        "[dependencies]",
        "[dev-dependencies]",
        "[build-dependencies]",
    ] {
        for dep in project_deps(&ocf, section) {
            wrong.push(format!("ocf {section} names the project crate {dep}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "crate graph differs from docs/ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The product code of a file: everything before its `#[cfg(test)]` module.
fn product_part(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// A line without its comment.
fn code_part(line: &str) -> &str {
    line.split("//").next().unwrap_or_default()
}

/// Calls that wait for a child process without a bound, and the places allowed to make them,
/// each with the reason.
const UNBOUNDED_CALLS: [&str; 4] = [".output()", ".status()", ".wait()", ".wait_with_output()"];
const ALLOWED_UNBOUNDED: [(&str, &str); 3] = [
    (
        "ocf/src/command.rs",
        "the bounded runner itself: it waits after killing the process group",
    ),
    (
        "ocf/src/process.rs",
        "waits on a child it has already signalled, within the deadline",
    ),
    (
        "lab/src/cli.rs",
        "`ganesha-lab exec` runs the user's interactive command for as long as they want",
    ),
];

#[test]
fn every_external_call_goes_through_the_bounded_runner() {
    let root = root();
    let mut found = Vec::new();
    for (dir, _) in CRATES {
        if dir == "tests" || dir == "testkit" {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&root.join(dir).join("src"), &mut files);
        for file in files {
            let rel = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy();
            if ALLOWED_UNBOUNDED.iter().any(|(f, _)| *f == rel) {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap();
            for (n, line) in product_part(&text).lines().enumerate() {
                let code = code_part(line);
                if UNBOUNDED_CALLS.iter().any(|call| code.contains(call)) {
                    found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "unbounded process waits outside ocf::command (use ocf::command::output or add the \
         file to ALLOWED_UNBOUNDED with the reason):\n{}",
        found.join("\n")
    );
}

/// In a test or bench, starting a process is a way around `TestCommand` as much as waiting
/// for one is: `TestCommand` bounds the command and, when an expectation fails, shows its
/// command line, status, time and both output streams.
const SPAWN_CALL: &str = ".spawn()";

/// The test code allowed one of [`UNBOUNDED_CALLS`] or [`SPAWN_CALL`]: (file, call, reason).
const ALLOWED_DIRECT: [(&str, &str, &str); 9] = [
    (
        "agents/tests/util/dbus.rs",
        ".spawn()",
        "starts a private dbus-daemon for the whole test and reads its address from its stdout",
    ),
    (
        "agents/tests/util/dbus.rs",
        ".wait()",
        "reaps that dbus-daemon after killing it when the test ends",
    ),
    (
        "agents/tests/fake_dbus_peers.rs",
        ".spawn()",
        "starts a stand-in ganesha.nfsd that must stay alive while the agent checks its pid",
    ),
    (
        "agents/tests/fake_dbus_peers.rs",
        ".wait()",
        "reaps that stand-in after killing it by pid",
    ),
    (
        "agents/tests/in_cluster.rs",
        ".wait()",
        "reaps a stand-in daemon (started with Node::spawn) after killing it by pid",
    ),
    (
        "agents/benches/monitor.rs",
        ".status()",
        "the measured loop: a runner's pipes and reader threads would add to the agent's own cost",
    ),
    (
        "georep/tests/util/mod.rs",
        ".spawn()",
        "starts glusterd and the namespace holders, which run until the harness is dropped",
    ),
    (
        "georep/tests/util/mod.rs",
        ".wait()",
        "reaps those daemons after killing them when the harness is dropped",
    ),
    (
        "tests/tests/ssh_transport.rs",
        ".wait()",
        "reaps the test's sshd (started with Node::spawn) after killing it by pid",
    ),
];

/// Integration tests, benches and the end-to-end harness: every crate's `tests/` and
/// `benches/`, and `tests/src/`.
fn test_code(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (dir, _) in CRATES {
        rust_files(&root.join(dir).join("tests"), &mut files);
        rust_files(&root.join(dir).join("benches"), &mut files);
    }
    rust_files(&root.join("tests/src"), &mut files);
    files.sort();
    files.dedup();
    files
}

#[test]
fn tests_and_benches_run_their_commands_through_test_command() {
    let root = root();
    let me = Path::new(file!()).file_name().unwrap_or_default();
    let mut found = Vec::new();
    let mut used = Vec::new();
    for file in test_code(&root) {
        if file.file_name() == Some(me) {
            continue;
        }
        let rel = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy();
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = code_part(line);
            let calls = UNBOUNDED_CALLS.into_iter().chain([SPAWN_CALL]);
            for call in calls.filter(|c| code.contains(c)) {
                match ALLOWED_DIRECT
                    .iter()
                    .position(|(f, c, _)| *f == rel && *c == call)
                {
                    Some(entry) => used.push(entry),
                    None => found.push(format!("{rel}:{}: {}", n + 1, line.trim())),
                }
            }
        }
    }
    let stale: Vec<String> = ALLOWED_DIRECT
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, (f, c, _))| format!("{f}: {c}"))
        .collect();
    assert!(
        stale.is_empty(),
        "ALLOWED_DIRECT names calls that are no longer there:\n{}",
        stale.join("\n")
    );
    assert!(
        found.is_empty(),
        "tests and benches run commands through ganesha_testkit::TestCommand (or add the file \
         and call to ALLOWED_DIRECT with the reason):\n{}",
        found.join("\n")
    );
}

/// Text files of the repository that people read: sources, manifests, docs, scripts.
fn text_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') && name != "fixtures" {
                    stack.push(path);
                }
            } else if ["rs", "md", "toml", "sh"]
                .iter()
                .any(|ext| path.extension().is_some_and(|e| e == *ext))
                || path.parent().is_some_and(|p| p.ends_with("scripts"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The team's research folder beside the repository, and its parts: written as pieces so
/// that this file does not itself name them.
const RESEARCH_FOLDER: &str = "shared";
const RESEARCH_PARTS: [&str; 3] = ["notes", "research", "hooks"];

/// Words that point outside the repository: the team's research folder, issue numbers.
fn outside_reference(line: &str) -> Option<&'static str> {
    let lower = line.to_ascii_lowercase();
    let outside = RESEARCH_PARTS
        .iter()
        .any(|part| lower.contains(&format!("{RESEARCH_FOLDER}/{part}")))
        || lower.contains("research §");
    if outside {
        return Some("a file outside the repository");
    }
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("issue") {
        let after = rest[at + 5..].trim_start_matches([' ', '#']);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            return Some("an issue number");
        }
        rest = &rest[at + 5..];
    }
    None
}

#[test]
fn code_and_docs_name_nothing_outside_the_repository() {
    let root = root();
    let me = Path::new(file!())
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found = Vec::new();
    for file in text_files(&root) {
        if file.file_name().is_some_and(|f| f.to_string_lossy() == me) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            if let Some(what) = outside_reference(line) {
                found.push(format!("{rel}:{}: {what}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Backquoted repository paths in a markdown text: `` `dir/...` `` under a top-level folder.
fn named_paths(text: &str) -> Vec<String> {
    const TOP: [&str; 10] = [
        "ocf/", "agents/", "georep/", "setup/", "lab/", "testkit/", "tests/", "docs/", "scripts/",
        "vagrant/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| TOP.iter().any(|t| s.starts_with(t)))
        .filter(|s| !s.contains(' ') && !s.contains('<') && !s.contains('{'))
        .map(|s| s.trim_end_matches(['.', ',', ':']).to_string())
        .collect()
}

/// Whether `pattern` (a path, possibly with `*` in its last part) names something that exists.
fn exists(root: &Path, pattern: &str) -> bool {
    let Some((dir, last)) = pattern.trim_end_matches('/').rsplit_once('/') else {
        return root.join(pattern).exists();
    };
    if !last.contains('*') {
        return root.join(pattern.trim_end_matches('/')).exists();
    }
    let (prefix, suffix) = last.split_once('*').unwrap_or((last, ""));
    fs::read_dir(root.join(dir)).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(suffix.trim_start_matches('*'))
        })
    })
}

#[test]
fn docs_name_only_paths_that_exist() {
    let root = root();
    let mut missing = Vec::new();
    for file in text_files(&root) {
        if file.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        // A path is the repository's, or relative to the document's own directory or its
        // crate's `src/` (a crate README lists its modules that way).
        let here = file.parent().unwrap_or(&root);
        let bases = [root.clone(), here.to_path_buf(), here.join("src")];
        for path in named_paths(&text) {
            let path = path.split("::").next().unwrap_or_default();
            if !bases.iter().any(|base| exists(base, path)) {
                missing.push(format!("{rel}: `{path}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs name paths that are not in the repository:\n{}",
        missing.join("\n")
    );
}
