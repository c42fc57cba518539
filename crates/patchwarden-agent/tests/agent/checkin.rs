//! Check-ins: signed, gzipped, a full inventory only when the server lacks it; bad
//! replies, clock skew and revocation.

use crate::fake::Fake;
use crate::host::{assert_ok, stderr, wait_output, wait_until, Host};
use axum::http::StatusCode;

#[test]
fn checkins_are_signed_gzipped_and_small_when_nothing_changed() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());

    assert_ok(&host.run(&["checkin"]));
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    // The fake verified each signature over the gzipped body with the agent's key.
    assert_eq!(
        got.len(),
        2,
        "refused: {:?}",
        fake.with(|b| b.refused.clone())
    );
    assert!(got.iter().all(|r| r.gzip));
    assert!(got.iter().all(|r| r.framed), "sent as protocol revision 3");
    let first = &got[0].checkin;
    let inv = first
        .inventory
        .as_ref()
        .expect("the first check-in carries the inventory");
    assert_eq!(inv.package_count(), 7);
    assert_eq!(inv.hostname.as_str(), "web-01");
    let second = &got[1];
    assert!(
        second.checkin.inventory.is_none(),
        "unchanged inventory sent again"
    );
    assert_eq!(second.checkin.inventory_hash, first.inventory_hash);
    println!(
        "unchanged check-in: {} bytes framed, {} bytes gzipped",
        second.json_len, second.wire_len
    );
    assert!(second.json_len < 1024, "{} bytes", second.json_len);
    assert!(second.wire_len < 1024);

    // The server lost the inventory: it asks, and gets it at once (same command).
    fake.with(|b| b.stored_hash = None);
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    assert_eq!(got.len(), 4);
    assert!(got[2].checkin.inventory.is_none() && got[3].checkin.inventory.is_some());

    // A changed package database is sent in full.
    let status = host.root.join("var/lib/dpkg/status");
    let text = std::fs::read_to_string(&status).unwrap();
    let first_version = text.lines().find(|l| l.starts_with("Version: ")).unwrap();
    std::fs::write(&status, text.replacen(first_version, "Version: 99.0-1", 1)).unwrap();
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    assert!(got[4].checkin.inventory.is_some());
    assert_ne!(got[4].checkin.inventory_hash, got[3].checkin.inventory_hash);
}

#[test]
fn a_forged_key_is_refused_by_the_server() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());
    // Someone replaces the agent's key: its signatures no longer verify.
    let other = patchwarden_wire::sign::SecretKey::generate();
    std::fs::write(host.state.join("identity.key"), other.to_b64()).unwrap();
    let out = host.run(&["checkin"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refused this agent's signature"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fake.with(|b| b.refused.clone()), ["bad signature"]);
}

#[test]
fn garbage_huge_replies_and_clock_skew_are_clear() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());

    fake.with(|b| b.reply_override = Some((StatusCode::OK, b"<html>oops".to_vec())));
    let out = host.run(&["checkin"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("reply is not valid"),
        "{}",
        stderr(&out)
    );

    let huge = vec![b' '; 17 * 1024 * 1024];
    fake.with(|b| b.reply_override = Some((StatusCode::OK, huge)));
    let out = host.run(&["checkin"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("larger than 16777216 bytes"),
        "{}",
        stderr(&out)
    );

    fake.with(|b| b.reply_override = Some((StatusCode::BAD_GATEWAY, b"down".to_vec())));
    let out = host.run(&["checkin"]);
    assert!(stderr(&out).contains("502"), "{}", stderr(&out));

    fake.with(|b| {
        b.reply_override = None;
        b.date_offset_secs = 240;
    });
    let out = host.run(&["checkin"]);
    assert_ok(&out);
    assert_skew(&stderr(&out), 240, "s behind");
}

/// The skew named in `err` ("clock is <n><unit>") is `secs`, or a second or two more
/// when the exchange crossed a second boundary on a busy machine.
fn assert_skew(err: &str, secs: i64, unit: &str) {
    let named = err
        .split("clock is ")
        .nth(1)
        .and_then(|rest| rest.split_once(unit))
        .and_then(|(n, _)| n.parse::<i64>().ok());
    assert!(
        named.is_some_and(|n| (secs..=secs + 2).contains(&n)),
        "{err}"
    );
}

#[test]
fn a_revoked_agent_stops_with_a_clear_message() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());
    fake.with(|b| b.revoked = true);
    let out = wait_output(host.spawn(&["run"]), 30);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    // One attempt, not a retry loop.
    let err = stderr(&out);
    assert_eq!(
        err.lines().filter(|l| l.contains("revoked")).count(),
        1,
        "{err}"
    );
    assert_eq!(fake.received().len(), 0);
}

#[test]
fn pending_updates_of_this_machine_are_sent_once() {
    // `apt-get -s` on this machine writes /var/log/apt: not while a deployment test
    // watches it.
    let _apt = crate::deploy::HOST_APT
        .write()
        .unwrap_or_else(|e| e.into_inner());
    if !std::path::Path::new("/var/lib/dpkg/status").exists()
        || std::process::Command::new("apt-get")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: not a Debian-family machine with apt-get");
        return;
    }
    let fake = Fake::start();
    let host = Host::new("");
    // This machine's own root and apt metadata (read-only: `apt-get -s`).
    let state = host.state.display().to_string();
    std::fs::write(
        &host.config,
        format!("state_dir = {state:?}\nroot = \"/\"\npending_updates_secs = 3600\n"),
    )
    .unwrap();
    host.enroll(&fake.url());
    assert_ok(&host.run(&["checkin"]));
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    let first = got[0]
        .checkin
        .pending_updates
        .as_ref()
        .expect("pending updates read");
    println!(
        "this machine: {} pending updates, {} security",
        first.len(),
        first.iter().filter(|u| u.security).count()
    );
    assert!(first
        .iter()
        .all(|u| !u.name.is_empty() && !u.candidate.is_empty()));
    // Unchanged: neither the inventory nor the pending updates are sent again.
    assert!(got[1].checkin.inventory.is_none());
    assert!(got[1].checkin.pending_updates.is_none());
}

#[test]
fn a_skewed_clock_refused_by_the_server_is_named() {
    let fake = Fake::start();
    let host = Host::new("");
    host.enroll(&fake.url());
    // The server's clock is 10 minutes ahead: it refuses the timestamp, says its Date.
    fake.with(|b| b.date_offset_secs = 600);
    let refusal = br#"{"error":{"code":"unauthenticated","message":"clock skew"}}"#;
    fake.with(|b| b.reply_override = Some((StatusCode::UNAUTHORIZED, refusal.to_vec())));
    let out = host.run(&["checkin"]);
    assert!(!out.status.success());
    assert_skew(&stderr(&out), 600, "s off");
}

#[test]
fn a_newer_installed_kernel_than_the_running_one_means_reboot_required() {
    let fake = Fake::start();
    let host = Host::new("");
    // The root runs 6.1.0-26 but has linux-image-6.1.0-28 installed.
    std::fs::create_dir_all(host.root.join("proc/sys/kernel")).unwrap();
    std::fs::write(
        host.root.join("proc/sys/kernel/osrelease"),
        "6.1.0-26-amd64\n",
    )
    .unwrap();
    let mut status = std::fs::read_to_string(host.root.join("var/lib/dpkg/status")).unwrap();
    status.push_str(
        "\nPackage: linux-image-6.1.0-28-amd64\nStatus: install ok installed\nArchitecture: amd64\n\
         Version: 6.1.119-1\nSource: linux-signed-amd64 (6.1.119+1)\nDescription: Linux 6.1\n",
    );
    std::fs::write(host.root.join("var/lib/dpkg/status"), &status).unwrap();
    host.enroll(&fake.url());
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    let c = &got[0].checkin;
    assert_eq!(c.kernel_running.as_deref(), Some("6.1.0-26-amd64"));
    assert!(
        c.reboot_required,
        "kernel 6.1.0-28 installed, 6.1.0-26 running"
    );

    // Running the newest one: no reboot needed.
    std::fs::write(
        host.root.join("proc/sys/kernel/osrelease"),
        "6.1.0-28-amd64\n",
    )
    .unwrap();
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    assert!(!got.last().unwrap().checkin.reboot_required);
}

#[test]
fn processes_mapping_replaced_libraries_are_reported() {
    let fake = Fake::start();
    let host = Host::new("");
    let p = host.root.join("proc/812");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("comm"), "sshd\n").unwrap();
    std::fs::write(
        p.join("maps"),
        "7f1c2a000000-7f1c2a1b0000 r-xp 00000000 08:01 131 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n",
    )
    .unwrap();
    host.enroll(&fake.url());
    assert_ok(&host.run(&["checkin"]));
    let got = fake.received();
    assert_eq!(got[0].checkin.restart_needed, ["sshd[812]"]);
}

#[test]
fn the_run_loop_reads_the_inventory_again_only_when_the_package_database_changed() {
    let fake = Fake::start();
    fake.with(|b| b.next_checkin_secs = 1);
    let host = Host::new("");
    // A stanza without a Package field: every read of the database warns once.
    let status = host.root.join("var/lib/dpkg/status");
    let mut text = std::fs::read_to_string(&status).unwrap();
    text.push_str("\nStatus: install ok installed\nVersion: 1.0\n");
    std::fs::write(&status, &text).unwrap();
    host.enroll(&fake.url());
    let child = host.spawn(&["run"]);
    wait_until(30, "three check-ins", || fake.received().len() >= 3);

    // dpkg's way of writing: a new file renamed over the status file.
    let first_version = text.lines().find(|l| l.starts_with("Version: ")).unwrap();
    let new = host.root.join("var/lib/dpkg/status-new");
    std::fs::write(&new, text.replacen(first_version, "Version: 99.0-1", 1)).unwrap();
    std::fs::rename(&new, &status).unwrap();
    let changed = fake.received().len();
    wait_until(30, "the changed inventory and two check-ins more", || {
        let got = fake.received();
        let sent = got[changed..]
            .iter()
            .position(|r| r.checkin.inventory.is_some());
        sent.is_some_and(|i| got.len() >= changed + i + 3)
    });

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = wait_output(child, 30);
    assert_ok(&out);
    let got = fake.received();
    let err = stderr(&out);
    let reads = err.matches("stanza without a Package field").count();
    assert_eq!(
        reads,
        2,
        "{} check-ins, the inventory read twice (start, change):\n{err}",
        got.len()
    );
    let hashes: Vec<&str> = got
        .iter()
        .map(|r| r.checkin.inventory_hash.as_str())
        .collect();
    assert_ne!(hashes.first(), hashes.last());
}
