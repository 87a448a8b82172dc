//! One rule for investigator token names, wherever a name comes from.
//!
//! The store, a restore, the control channel and every `wbs-server token`
//! command follow the store's rule (`wbs_store::TokenName`): a store whose
//! tokens cannot be named on the command line would keep a leaked token
//! valid, because it could not be revoked. A backup that holds a name
//! outside the rule is therefore refused by the restore, naming it, and
//! every name the rule allows can be listed and revoked, with or without a
//! server running.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use wbs_e2e::{bin, ServerOptions, TestServer};

fn wbs_server(config: &Path, data: &Path, args: &[&str]) -> Output {
    Command::new(bin("wbs-server"))
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn hex(bytes: &[u8]) -> String {
    wbs_protocol::hex(bytes)
}

/// Renames the tokens of a backup (`from` → `to`), fixing the manifest's
/// size and SHA-256 of `records.json`: a backup made by a store that held
/// these names.
fn rename_tokens(backup: &[u8], renames: &[(&str, &str)]) -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(backup);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        entries.push((path, data));
    }
    let records = entries
        .iter_mut()
        .find(|(p, _)| p == "records.json")
        .expect("records.json in the backup");
    let mut json: serde_json::Value = serde_json::from_slice(&records.1).unwrap();
    let mut renamed = 0;
    for token in json["tokens"].as_array_mut().expect("a token list") {
        for (from, to) in renames {
            if token["name"] == *from {
                token["name"] = (*to).into();
                renamed += 1;
            }
        }
    }
    assert_eq!(renamed, renames.len(), "{json}");
    records.1 = serde_json::to_vec_pretty(&json).unwrap();
    let (size, sha) = (records.1.len(), hex(&Sha256::digest(&records.1)));
    let manifest = entries
        .iter_mut()
        .find(|(p, _)| p == "manifest.json")
        .unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&manifest.1).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == "records.json" {
            f["size"] = size.into();
            f["sha256"] = sha.clone().into();
        }
    }
    manifest.1 = serde_json::to_vec_pretty(&m).unwrap();
    let mut out = tar::Builder::new(Vec::new());
    for (path, data) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        out.append(&header, &data[..]).unwrap();
    }
    out.into_inner().unwrap()
}

#[test]
fn a_token_name_outside_the_rule_is_refused_by_restore_and_every_name_inside_can_be_revoked() {
    let mut server = TestServer::start(ServerOptions {
        tokens: vec!["siti.r@desk-1".into(), "budi_2".into(), "desk1".into()],
        ..ServerOptions::default()
    });
    server.stop();
    let dir = server.dir.path().to_path_buf();
    let config = server.config.clone();
    let backup = dir.join("backup.tar");
    ok(wbs_server(
        &config,
        &server.data,
        &["backup", "--out", backup.to_str().unwrap()],
    ));

    // A backup holding a name with a space: refused, naming it; nothing
    // is left behind.
    let spaced = rename_tokens(
        &std::fs::read(&backup).unwrap(),
        &[("budi_2", "budi santoso")],
    );
    let spaced_file = dir.join("spaced.tar");
    std::fs::write(&spaced_file, spaced).unwrap();
    let refused = dir.join("refused");
    let out = wbs_server(
        &config,
        &refused,
        &["restore", spaced_file.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "restored a name the commands cannot name: {err}"
    );
    assert!(err.contains("budi santoso"), "{err}");
    assert!(
        std::fs::read_dir(&refused).map_or(true, |mut d| d.next().is_none()),
        "a refused restore left files behind"
    );

    // The backup as made restores, and each of its names can be revoked.
    let restored = dir.join("restored");
    ok(wbs_server(
        &config,
        &restored,
        &["restore", backup.to_str().unwrap()],
    ));
    let list = |data: &Path| {
        String::from_utf8(ok(wbs_server(&config, data, &["token", "list"])).stdout).unwrap()
    };
    assert!(list(&restored)
        .lines()
        .any(|l| l.starts_with("siti.r@desk-1\t")));

    // With no server running: the command opens the store itself.
    ok(wbs_server(
        &config,
        &restored,
        &["token", "revoke", "siti.r@desk-1"],
    ));
    let listed = list(&restored);
    assert!(!listed.contains("siti.r@desk-1"), "{listed}");

    // With a server running on it: through its control channel.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replace(
            &format!("data = {:?}", server.data.display().to_string()),
            &format!("data = {:?}", restored.display().to_string()),
        ),
    )
    .unwrap();
    server.data = restored.clone();
    server.spawn();
    let out = ok(wbs_server(
        &config,
        &restored,
        &["token", "revoke", "budi_2"],
    ));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("running server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = list(&restored);
    assert!(!listed.contains("budi_2"), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("desk1\t")), "{listed}");

    // Names outside the rule are refused by the command before anything is
    // made or sent, with the rule in the message.
    for bad in [
        "budi santoso",
        " padded",
        "line\nbreak",
        "",
        &"x".repeat(65),
    ] {
        let out = wbs_server(&config, &restored, &["token", "add", bad]);
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(out.stdout.is_empty(), "a token printed for {bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("1-64") || err.contains("1 to 64"),
            "{bad:?}: {err}"
        );
    }
}
