//! The workbench never starts another program: a reporter's file is never
//! handed to a viewer, to the desktop or to a shell, and nothing else is
//! either. Its sources must not name the means to do it.

use std::path::Path;

/// What starting a process looks like in Rust source.
const FORBIDDEN: &[&str] = &[
    "Command::new",
    "process::",
    "std::process",
    "posix_spawn",
    "execv",
    "xdg-open",
    "open::that",
    "ShellExecute",
    "webbrowser",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_of_the_app_can_start_a_process() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() >= 5, "found only {files:?}");
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    hits.push(format!("{}:{}: {word}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "the workbench must start no process: {hits:#?}"
    );
}

#[test]
fn the_check_finds_what_it_looks_for() {
    // A check that cannot fail means nothing: the same scan over a line
    // that starts a process must find it.
    let line = "let _ = std::process::Command::new(\"xdg-open\").arg(path);";
    assert!(FORBIDDEN.iter().filter(|w| line.contains(*w)).count() >= 3);
}
