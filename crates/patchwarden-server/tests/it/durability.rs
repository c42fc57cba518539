//! Killing the server (SIGKILL) in the middle of writes loses nothing it acknowledged.

use patchwarden_testkit::Client;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Starts `patchwarden serve` on a free port and returns the child and its base URL.
pub fn spawn_server(db_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url])
        .env_remove("PATCHWARDEN_CONFIG")
        .env("PATCHWARDEN_AUTH_ARGON2_MEMORY_KIB", "64")
        .env("PATCHWARDEN_AUTH_ARGON2_ITERATIONS", "1")
        .env("PATCHWARDEN_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

fn create_user(db_url: &str, name: &str, role: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args([
            "admin",
            "create-user",
            "--username",
            name,
            "--role",
            role,
            "--password-stdin",
            "--database-url",
            db_url,
        ])
        .env("PATCHWARDEN_AUTH_ARGON2_MEMORY_KIB", "64")
        .env("PATCHWARDEN_AUTH_ARGON2_ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Logs in and makes an API token.
pub async fn token(base: &str, user: &str, password: &str) -> Client {
    let mut c = Client::new(base, None);
    let r = c
        .post(
            "/api/v1/auth/login",
            &json!({"username": user, "password": password}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    c.csrf = r.json["csrf_token"].as_str().map(str::to_owned);
    let r = c
        .post("/api/v1/tokens", &json!({"name": "durability"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Client::new(base, r.json["secret"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kill.db").display());
    create_user(&db, "writer", "operator", "writer password 123");
    let (mut child, base) = spawn_server(&db);
    let api = token(&base, "writer", "writer password 123").await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let api = api.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let host = format!("w{w}-h{i}");
                let r = api
                    .http
                    .post(format!("{}/api/v1/assets", api.base))
                    .bearer_auth(api.token.as_ref().unwrap())
                    .json(&json!({"hostname": host, "environment": "production"}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acked.lock().unwrap().push(host),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Let writes flow, then kill without warning.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if acked.lock().unwrap().len() >= 150 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);

    // Restart on the same database: every acknowledged asset is there.
    let (mut child, base) = spawn_server(&db);
    let api = token(&base, "writer", "writer password 123").await;
    let mut stored = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let r = api
            .get(&format!("/api/v1/assets?limit=1000&after={after}"))
            .await;
        let page = r.json["assets"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        for a in &page {
            stored.insert(a["hostname"].as_str().unwrap().to_owned());
            after = a["id"].as_i64().unwrap();
        }
    }
    let lost: Vec<_> = acked.iter().filter(|h| !stored.contains(*h)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // Nothing half-written either: the audit chain is intact and covers every asset.
    let v = api.get("/api/v1/audit/verify").await;
    assert_eq!(v.status, 403, "an operator may not read the audit log");
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(["audit", "verify", "--database-url", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
