//! The audit log: every change is an event; tampering with a stored row is caught by
//! `patchwarden audit verify`, which names the first broken link.

use patchwarden_testkit::TestServer;
use serde_json::json;
use std::process::Command;

fn patchwarden(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
        .arg("--database-url")
        .arg(db_url)
        .env_remove("PATCHWARDEN_CONFIG")
        .output()
        .unwrap()
}

async fn exec(db_url: &str, sql: &str) {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
    let done = sqlx::query(sql).execute(&mut c).await.unwrap();
    assert!(done.rows_affected() > 0, "{sql} changed nothing");
    c.close().await.unwrap();
}

#[tokio::test]
async fn changes_are_audited_and_tampering_is_caught() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    for i in 0..4 {
        let r = admin
            .post(
                "/api/v1/assets",
                &json!({"hostname": format!("a{i}"), "environment": "qa"}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = admin
        .patch(
            "/api/v1/assets/1",
            &json!({"criticality": "mission_critical"}),
        )
        .await;
    assert_eq!(r.status, 200);

    // The update event has before and after.
    let ev = admin.get("/api/v1/audit?action=asset.update").await;
    let ev = &ev.json["events"][0];
    assert!(ev["before"].as_str().unwrap().contains("\"standard\""));
    assert!(ev["after"]
        .as_str()
        .unwrap()
        .contains("\"mission_critical\""));
    assert_eq!(ev["actor"]["kind"], "token");

    let v = admin.get("/api/v1/audit/verify").await;
    assert_eq!(v.json["ok"], true, "{}", v.text);
    let total = v.json["verified"].as_i64().unwrap();
    assert!(total >= 7, "user + token + 4 creates + update: {total}");

    // Export: one JSON object per line, every event.
    let resp = admin
        .http
        .get(format!("{}/api/v1/audit/export", ts.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let body = resp.text().await.unwrap();
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as i64, total);
    assert_eq!(lines[0]["seq"], 1);

    let db = ts.db_url();
    let _dir = ts.stop().await;

    // Intact: exit 0.
    let out = patchwarden(&db, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("{total} events verified")),
        "{stdout}"
    );

    // The CLI export matches the API export.
    let out = patchwarden(&db, &["audit", "export"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), body);

    // Alter event 4: caught at 4.
    exec(
        &db,
        "UPDATE audit_events SET after_json = '{\"hostname\":\"evil\"}' WHERE seq = 4",
    )
    .await;
    let out = patchwarden(&db, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("event 4 does not match its hash"),
        "{stdout}"
    );
}

#[tokio::test]
async fn deleting_rows_is_caught() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    for i in 0..5 {
        admin
            .post(
                "/api/v1/assets",
                &json!({"hostname": format!("d{i}"), "environment": "qa"}),
            )
            .await;
    }
    let head = ts.store().audit_head().await.unwrap().unwrap().0;
    let db = ts.db_url();
    let _dir = ts.stop().await;

    exec(&db, &format!("DELETE FROM audit_events WHERE seq = {head}")).await;
    let out = patchwarden(&db, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("trailing events were deleted"), "{stdout}");

    exec(&db, "DELETE FROM audit_events WHERE seq = 3").await;
    let out = patchwarden(&db, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("event 3 is missing"), "{stdout}");
}
