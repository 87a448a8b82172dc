//! The air-gapped tool must contain no networking code: not one networking
//! crate may appear in its dependency tree, directly or through another
//! crate. This runs `cargo tree` on every test run so the build proves it.

use std::path::Path;
use std::process::Command;

/// Crates that open sockets, speak network protocols or run the async
/// runtimes they are built on.
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
    "smol",
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
            "wbs-inspect",
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
    // Each line is `name vX.Y.Z [(path)] [(*)]`.
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn wbs_inspect_depends_on_no_networking_crate() {
    let names = dependency_names();
    // The listing really is the dependency tree, or the check means nothing.
    for expected in ["wbs-inspect", "wbs-protocol", "age", "clap"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from cargo tree output: {names:?}"
        );
    }
    let found: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "wbs-inspect must never touch a network, but depends on {found:?}"
    );
}
