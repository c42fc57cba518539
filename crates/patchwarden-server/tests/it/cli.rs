//! The `patchwarden` command line and the configuration layers.

use patchwarden_server::config::{Config, Overrides, DEFAULT_CONFIG};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patchwarden"));
    c.env_remove("PATCHWARDEN_CONFIG");
    c
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_explains_every_subcommand() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["serve", "quickstart", "migrate", "admin", "audit", "config"] {
        assert!(out.contains(sub), "--help does not mention {sub}:\n{out}");
    }
    for (args, words) in [
        (
            vec!["admin", "--help"],
            vec!["create-user", "reset-password"],
        ),
        (vec!["audit", "--help"], vec!["verify", "export"]),
        (vec!["config", "--help"], vec!["default", "check"]),
        (
            vec!["quickstart", "--help"],
            vec!["--data-dir", "one-time administrator password"],
        ),
        (
            vec!["admin", "create-user", "--help"],
            vec!["--role", "--password-stdin"],
        ),
    ] {
        let (code, out, _) = run(&args);
        assert_eq!(code, 0, "{args:?}");
        for w in words {
            assert!(out.contains(w), "{args:?} --help lacks {w}:\n{out}");
        }
    }
}

#[test]
fn shipped_default_config_parses_to_the_defaults() {
    let (code, out, _) = run(&["config", "default"]);
    assert_eq!(code, 0);
    assert_eq!(out, DEFAULT_CONFIG);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, &out).unwrap();
    let cfg = Config::load_from(Some(&f), &[], &Overrides::default()).unwrap();
    assert_eq!(cfg, Config::default());
}

#[test]
fn layers_apply_in_order_and_unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "[server]\nlisten = \"127.0.0.1:9000\"\nmax_body_bytes = 2048\n[log]\nlevel = \"debug\"\n",
    )
    .unwrap();
    let env = vec![
        (
            "PATCHWARDEN_SERVER_MAX_BODY_BYTES".to_owned(),
            "4096".to_owned(),
        ),
        (
            "PATCHWARDEN_AUTH_SECURE_COOKIES".to_owned(),
            "true".to_owned(),
        ),
        (
            "PATCHWARDEN_TEST_POSTGRES_URL".to_owned(),
            "ignored".to_owned(),
        ),
        ("PATCHWARDEN_CONFIG".to_owned(), "ignored".to_owned()),
    ];
    let cfg = Config::load_from(
        Some(&f),
        &env,
        &Overrides {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            database_url: None,
        },
    )
    .unwrap();
    assert_eq!(cfg.server.listen.port(), 9100, "flag beats file");
    assert_eq!(cfg.server.max_body_bytes, 4096, "environment beats file");
    assert_eq!(cfg.log.level, "debug", "file beats default");
    assert!(cfg.secure_cookies());

    std::fs::write(&f, "[server]\nlisten_addr = \"127.0.0.1:9000\"\n").unwrap();
    let err = Config::load_from(Some(&f), &[], &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("server.listen_addr"), "{err}");
    std::fs::write(&f, "[sever]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
    let err = Config::load_from(Some(&f), &[], &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("`sever`"), "{err}");
    let env = vec![("PATCHWARDEN_SERVER_LISTNE".to_owned(), "x".to_owned())];
    let err = Config::load_from(None, &env, &Overrides::default()).unwrap_err();
    assert!(
        err.to_string().contains("server.listne")
            && err.to_string().contains("PATCHWARDEN_SERVER_LISTNE"),
        "{err}"
    );
    std::fs::write(&f, "[server\n").unwrap();
    let err = Config::load_from(Some(&f), &[], &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("c.toml"), "{err}");
    let env = vec![(
        "PATCHWARDEN_SERVER_MAX_BODY_BYTES".to_owned(),
        "lots".to_owned(),
    )];
    assert!(Config::load_from(None, &env, &Overrides::default()).is_err());
}

#[test]
fn secrets_are_redacted() {
    let env = vec![(
        "PATCHWARDEN_DATABASE_URL".to_owned(),
        "postgres://pw:hunter2secret@db.example.org:5432/patchwarden".to_owned(),
    )];
    let cfg = Config::load_from(None, &env, &Overrides::default()).unwrap();
    assert!(!format!("{cfg:?}").contains("hunter2secret"));
    assert!(!cfg.to_redacted_toml().contains("hunter2secret"));
    assert!(cfg
        .to_redacted_toml()
        .contains("postgres://pw:***@db.example.org:5432/patchwarden"));
    let (code, out, _) = {
        let out = bin()
            .args(["config", "check"])
            .env(
                "PATCHWARDEN_DATABASE_URL",
                "postgres://pw:hunter2secret@db/x",
            )
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            (),
        )
    };
    assert_eq!(code, 0);
    assert!(
        !out.contains("hunter2secret") && out.contains("***"),
        "{out}"
    );
}

#[test]
fn an_unreachable_database_fails_clearly_without_the_password() {
    // Port 1 on loopback: nothing listens there.
    let out = bin()
        .args([
            "migrate",
            "--database-url",
            "postgres://pw:hunter2secret@127.0.0.1:1/nodb",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("127.0.0.1:1"), "names the URL: {err}");
    assert!(!err.contains("hunter2secret"), "leaks the password: {err}");

    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let url = format!("sqlite://{}/sub/db.sqlite", blocker.display());
    let out = bin()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot open the database"), "{err}");
}

#[test]
fn admin_create_user_prints_a_one_time_password_or_takes_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let (code, out, err) = run(&[
        "admin",
        "create-user",
        "--username",
        "Alice",
        "--role",
        "security",
        "--role",
        "auditor",
        "--database-url",
        &url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created user alice"), "{out}");
    assert!(out.contains("one-time password: "), "{out}");
    let (code, _, err) = run(&[
        "admin",
        "create-user",
        "--username",
        "alice",
        "--database-url",
        &url,
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("conflict") || err.contains("exists") || err.contains("taken"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "admin",
        "create-user",
        "--username",
        "bob",
        "--role",
        "king",
        "--database-url",
        &url,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("king"), "{err}");

    use std::io::Write;
    let mut child = bin()
        .args([
            "admin",
            "create-user",
            "--username",
            "carol",
            "--password-stdin",
            "--database-url",
            &url,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("created user carol") && !out.contains("one-time"),
        "{out}"
    );
}

#[test]
fn scans_import_reports_each_file_and_fails_only_for_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let out = bin()
        .args(["scans", "import", "--database-url", &url])
        .arg("../../../shared/fixtures/scanners/python-libnessus/nessus_report_localpci.nessus")
        .arg(&junk)
        .arg("../../../shared/fixtures/scanners/openvas/one_vuln.xml")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "nessus_report_localpci.nessus: nessus xml report, 1 hosts (0 matched, 1 new)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("one_vuln.xml: openvas xml report, 1 hosts"),
        "{stdout}"
    );
    assert!(
        stderr.contains("junk.txt: not imported: not a scanner report"),
        "{stderr}"
    );
}
