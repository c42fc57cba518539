//! Enrolment: identity and pins stored privately; only the pinned CA is trusted.

use crate::fake::{test_ca, Fake};
use crate::host::{assert_ok, file_mode, stderr, Host};

#[test]
fn enrolment_over_https_stores_identity_and_pins() {
    let (ca_pem, acceptor) = test_ca();
    let fake = Fake::start_with(Some(acceptor));
    let host = Host::new("");
    let ca_file = host.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let out = host.run(&[
        "enroll",
        "--server",
        &fake.url(),
        "--token",
        "pwe_good",
        "--ca-cert",
        ca_file.to_str().unwrap(),
    ]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("enrolled as agent 41"));

    assert_eq!(file_mode(&host.state), 0o700);
    assert_eq!(file_mode(&host.state.join("identity.key")), 0o600);
    let e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(host.state.join("enrollment.json")).unwrap())
            .unwrap();
    assert_eq!(e["agent_id"], 41);
    assert_eq!(e["asset_id"], 1041);
    assert_eq!(e["server_url"], fake.url());
    assert_eq!(e["server_job_key"], fake.job_key.public_b64());
    use sha2::Digest;
    let pin = hex::encode(sha2::Sha256::digest(ca_pem.as_bytes()));
    assert_eq!(e["ca_cert_sha256"], pin);
    // The key the server registered is the one stored.
    let key = std::fs::read_to_string(host.state.join("identity.key")).unwrap();
    let key = patchwarden_wire::sign::SecretKey::from_b64(&key).unwrap();
    assert_eq!(fake.with(|b| b.agents.clone()), [(41, key.public_b64())]);

    // Check-ins go over HTTPS with the pin, and are accepted.
    assert_ok(&host.run(&["checkin"]));
    assert_eq!(fake.received().len(), 1);

    // A second enrolment needs --force.
    let again = host.run(&["enroll", "--server", &fake.url(), "--token", "pwe_good"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already enrolled as agent 41"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn another_ca_is_not_trusted_and_nothing_is_stored() {
    let (_, acceptor) = test_ca();
    let (other_ca, _) = test_ca();
    let fake = Fake::start_with(Some(acceptor));
    let host = Host::new("");
    let ca_file = host.dir.path().join("other-ca.pem");
    std::fs::write(&ca_file, other_ca).unwrap();
    let out = host.run(&[
        "enroll",
        "--server",
        &fake.url(),
        "--token",
        "pwe_good",
        "--ca-cert",
        ca_file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("unreachable") && err.contains("certificate"),
        "{err}"
    );
    assert!(!host.state.join("enrollment.json").exists());
    assert!(fake.with(|b| b.agents.is_empty()));
}

#[test]
fn a_bad_token_is_a_clear_error() {
    let fake = Fake::start();
    let host = Host::new("");
    let out = host.run(&["enroll", "--server", &fake.url(), "--token", "pwe_wrong"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refused the enrolment token"),
        "{}",
        stderr(&out)
    );
    assert!(!host.state.join("enrollment.json").exists());
    // Not enrolled: check-in says what to do.
    let out = host.run(&["checkin"]);
    assert!(
        stderr(&out).contains("run `patchwarden-agent enroll` first"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_default_is_printed_and_parses() {
    let host = Host::new("");
    let out = host.run(&["config", "default"]);
    assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("interval_secs = 300"));
    let file = host.dir.path().join("default.toml");
    std::fs::write(&file, text).unwrap();
    let check = std::process::Command::new(crate::host::BIN)
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    assert_ok(&check);
    std::fs::write(&file, "intervall_secs = 3\n").unwrap();
    let bad = std::process::Command::new(crate::host::BIN)
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("intervall_secs"), "{}", stderr(&bad));
}
