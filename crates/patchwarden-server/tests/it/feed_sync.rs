//! `patchwarden advisories sync`: feeds over HTTP from a server on 127.0.0.1, checksum
//! verified, failures reported per feed while the others land.

use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

fn osv() -> String {
    serde_json::json!({
        "id": "DEBIAN-TEST-1", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-1"],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2.13.dfsg-1+deb12u9"}]}]}]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_fetches_verifies_and_reports_each_feed() {
    let body = osv();
    let sum = hex::encode(Sha256::digest(body.as_bytes()));
    let (b1, b2, s1) = (body.clone(), body.clone(), sum.clone());
    let app = Router::new()
        .route("/feeds/osv.json", get(move || async move { b1 }))
        .route(
            "/feeds/osv.json.sha256",
            get(move || async move { format!("{s1}  osv.json\n") }),
        )
        .route(
            "/feeds/tampered.json",
            get(move || async move { b2.replace("1+deb12u9", "1+deb12u1") }),
        )
        .route(
            "/feeds/tampered.json.sha256",
            get(move || async move { format!("{sum}  tampered.json\n") }),
        )
        .route("/feeds/huge.json", get(|| async { "x".repeat(5000) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pw.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[feeds]
max_bytes = 4096
[[feeds.sources]]
name = "good"
url = "{base}/feeds/osv.json"
sha256_url = "{base}/feeds/osv.json.sha256"
[[feeds.sources]]
name = "tampered"
url = "{base}/feeds/tampered.json"
sha256_url = "{base}/feeds/tampered.json.sha256"
[[feeds.sources]]
name = "missing"
url = "{base}/feeds/nope.json"
[[feeds.sources]]
name = "huge"
url = "{base}/feeds/huge.json"
[[feeds.sources]]
name = "offline"
url = "http://127.0.0.1:1/feed.json"
"#
        ),
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let run = {
        let (cfg, db) = (cfg.clone(), db.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_patchwarden"))
                .args(["advisories", "sync", "--config"])
                .arg(&cfg)
                .args(["--database-url", &db])
                .env("PATCHWARDEN_LOG_LEVEL", "error")
                .output()
                .unwrap()
        }
    };
    let out = tokio::task::spawn_blocking(run.clone()).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "some feeds failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"))
            .to_owned()
    };
    assert!(line("good").contains("1 new"), "{text}");
    assert!(
        line("tampered").contains("FAILED: checksum mismatch"),
        "{text}"
    );
    assert!(line("missing").contains("HTTP 404"), "{text}");
    assert!(line("huge").contains("larger than 4096 bytes"), "{text}");
    assert!(line("offline").contains("cannot reach"), "{text}");

    // Again: the good feed is unchanged, nothing duplicated.
    let out = tokio::task::spawn_blocking(run).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("good: ") && text.contains("0 new, 0 updated, 1 unchanged"),
        "{text}"
    );
}
