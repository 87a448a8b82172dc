//! The workbench runs on the air-gapped machine: not one networking crate
//! may appear in its dependency tree, directly or through another crate
//! (the same check as wbs-inspect's). AccessKit's screen-reader bridge
//! brings zbus, which speaks D-Bus over the local Unix socket of the
//! desktop session: no network, and allowed (docs/DECISIONS.md).

use std::path::Path;
use std::process::Command;

/// Crates that open network sockets, speak network protocols or run the
/// async runtimes they are built on.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "reqwest",
    "mio",
    "socket2",
    "ureq",
    "h2",
    "h3",
    "quinn",
    "axum",
    "tower",
    "tower-http",
    "tonic",
    "warp",
    "actix-web",
    "actix-rt",
    "async-std",
    "curl",
    "curl-sys",
    "isahc",
    "surf",
    "native-tls",
    "openssl",
    "rustls",
    "tungstenite",
    "tokio-tungstenite",
    "trust-dns-resolver",
    "hickory-resolver",
    "libp2p",
    "ehttp",
    "webbrowser",
    "open",
];

fn dependency_names() -> Vec<String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap();
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args([
            "tree",
            "-p",
            "wbs-workbench",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn wbs_workbench_depends_on_no_networking_crate() {
    let names = dependency_names();
    // The listing really is the dependency tree, or the check means nothing.
    for expected in [
        "wbs-workbench",
        "wbs-inspect",
        "eframe",
        "egui",
        "accesskit",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from cargo tree output"
        );
    }
    let found: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "wbs-workbench must never touch a network, but depends on {found:?}"
    );
}
