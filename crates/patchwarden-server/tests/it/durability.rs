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

/// The same for inventory reports, which the SQLite store writes with group commit:
/// after a SIGKILL every asset holds, complete, the last inventory acknowledged for it
/// (or one sent after it whose answer was lost with the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_inventory_reports_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kill-inv.db").display());
    create_user(&db, "writer", "operator", "writer password 123");
    let (mut child, base) = spawn_server(&db);
    let api = token(&base, "writer", "writer password 123").await;
    const ASSETS: usize = 16;
    const PACKAGES: usize = 200;
    let mut ids = Vec::new();
    for i in 0..ASSETS {
        let r = api
            .post(
                "/api/v1/assets",
                &json!({"hostname": format!("inv-{i}"), "environment": "production"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json["id"].as_i64().unwrap());
    }
    let inventory = |round: usize| {
        let mut packages: Vec<serde_json::Value> = (0..PACKAGES - 1)
            .map(|p| {
                // A few packages change every round, the rest stay.
                let v = if p % 50 == round % 50 { round } else { 1 };
                json!({"name": format!("pkg-{p:03}"), "version": format!("{v}.0-1"), "arch": "amd64"})
            })
            .collect();
        packages.push(json!({"name": "round", "version": format!("{round}"), "arch": "all"}));
        json!({"format": "deb", "packages": packages})
    };
    // Last acknowledged round per asset.
    let acked = Arc::new(Mutex::new(vec![0usize; ASSETS]));
    let total = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (api, acked, total, ids) = (api.clone(), acked.clone(), total.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for round in 1..100_000 {
                let slot = w * 2 + round % 2;
                let r = api
                    .http
                    .put(format!("{}/api/v1/assets/{}/packages", api.base, ids[slot]))
                    .bearer_auth(api.token.as_ref().unwrap())
                    .json(&inventory(round))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        acked.lock().unwrap()[slot] = round;
                        *total.lock().unwrap() += 1;
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if *total.lock().unwrap() >= 300 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let (mut child, base) = spawn_server(&db);
    let api = token(&base, "writer", "writer password 123").await;
    for (slot, id) in ids.iter().enumerate() {
        let r = api.get(&format!("/api/v1/assets/{id}/packages")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let packages = r.json["packages"].as_array().unwrap();
        if acked[slot] == 0 {
            continue;
        }
        assert_eq!(packages.len(), PACKAGES, "asset {id}: a complete inventory");
        let round: usize = packages
            .iter()
            .find(|p| p["name"] == "round")
            .and_then(|p| p["version"].as_str())
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            round >= acked[slot],
            "asset {id}: stored round {round}, but round {} was acknowledged",
            acked[slot]
        );
        // And it is exactly that round's inventory.
        let want = inventory(round);
        for p in want["packages"].as_array().unwrap() {
            assert!(
                packages.contains(p),
                "asset {id} round {round}: {p} missing"
            );
        }
    }
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
