//! Health, request ids, JSON errors, bad input.

use patchwarden_testkit::TestServer;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness_answer_with_request_ids() {
    let ts = TestServer::start().await;
    let c = ts.anonymous();
    let r = c.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["status"], "ok");
    let id = r.headers.get("x-request-id").expect("request id header");
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    let r = c.get("/readyz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["database"], "sqlite");
    assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let ts = TestServer::start().await;
    let c = ts.anonymous();
    let r = c.get("/api/v1/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "no_such_route");
    let r = c.send(reqwest::Method::DELETE, "/healthz", None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "method_not_allowed");
}

#[tokio::test]
async fn bad_bodies_are_refused_and_nothing_is_written() {
    let ts = TestServer::start_with(|c| c.server.max_body_bytes = 4096).await;
    let admin = ts.admin().await;
    let events_before = ts.store().audit_head().await.unwrap();
    let assets_before = ts.store().count_assets().await.unwrap();

    // Malformed JSON.
    let resp = admin
        .http
        .post(format!("{}/api/v1/assets", ts.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .header("content-type", "application/json")
        .body("{\"hostname\": ")
        .send()
        .await
        .unwrap();
    let r = patchwarden_testkit::Client::finish(resp).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "malformed_json");

    // Unknown field: named in the message.
    let r = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "a1", "environment": "production", "colour": "red"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.code(), "invalid_body");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{}",
        r.text
    );

    // Invalid value: the field is named.
    let r = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "-bad-", "environment": "production"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("hostname"), "{}", r.text);
    let r = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "ok1", "environment": "moon"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("production"),
        "lists the choices: {}",
        r.text
    );

    // Oversized body.
    let big = "x".repeat(10_000);
    let r = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "ok2", "environment": "production", "owner": big}),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.code(), "payload_too_large");

    // Wrong content type.
    let resp = admin
        .http
        .post(format!("{}/api/v1/assets", ts.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .header("content-type", "text/plain")
        .body("hostname=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    // Invalid ids.
    for bad in ["abc", "0", "-3", "1.5", "99999999999999999999"] {
        let r = admin.get(&format!("/api/v1/assets/{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.code(), "invalid_id");
    }
    let r = admin.get("/api/v1/assets/424242").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");

    // Bad packages: one invalid record refuses the whole inventory, with its index.
    let a = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "inv1", "environment": "qa"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.json["id"].as_i64().unwrap();
    let r = admin
        .put(
            &format!("/api/v1/assets/{id}/packages"),
            &json!({"format": "deb", "packages": [
                {"name": "ok", "version": "1.0", "arch": "amd64"},
                {"name": "bad name", "version": "1.0", "arch": "amd64"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("package #1"), "{}", r.text);
    assert_eq!(
        ts.store()
            .get_inventory(patchwarden_domain::ids::AssetId::new(id))
            .await
            .unwrap()
            .len(),
        0
    );

    // Only the one good asset was written, with exactly one audit event.
    assert_eq!(ts.store().count_assets().await.unwrap(), assets_before + 1);
    let head = ts.store().audit_head().await.unwrap().unwrap();
    assert_eq!(head.0, events_before.map_or(0, |h| h.0) + 1);
}

#[tokio::test]
async fn assets_crud_inventory_and_pagination() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = admin
            .post(
                "/api/v1/assets",
                &json!({
                    "hostname": format!("Web-{i}.example.org"),
                    "environment": if i % 2 == 0 { "production" } else { "staging" },
                    "criticality": "mission_critical",
                    "groups": ["web", "dmz"],
                    "os_family": "linux", "distribution": "debian", "release": "12", "arch": "amd64",
                    "owner": "ops@example.org",
                    "protected_data": i == 0,
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json["hostname"], format!("web-{i}.example.org"));
        ids.push(r.json["id"].as_i64().unwrap());
    }
    let dup = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "web-0.example.org", "environment": "qa"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), "conflict");

    let page = admin.get("/api/v1/assets?limit=2").await;
    assert_eq!(page.json["assets"].as_array().unwrap().len(), 2);
    let next = page.json["next_after"].as_i64().unwrap();
    let page2 = admin
        .get(&format!("/api/v1/assets?limit=2&after={next}"))
        .await;
    assert_eq!(page2.json["assets"][0]["id"].as_i64().unwrap(), ids[2]);
    let prod = admin.get("/api/v1/assets?environment=production").await;
    assert_eq!(prod.json["assets"].as_array().unwrap().len(), 3);
    let r = admin.get("/api/v1/assets?environment=moon").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_query");

    let id = ids[1];
    let r = admin
        .patch(
            &format!("/api/v1/assets/{id}"),
            &json!({"criticality": "standard", "owner": ""}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["criticality"], "standard");
    assert!(r.json["owner"].is_null());

    let inv = json!({"format": "deb", "packages": [
        {"name": "openssl", "version": "3.0.11-1~deb12u1", "arch": "amd64", "source_name": "openssl"},
        {"name": "bash", "version": "5.2.15-2+b2", "arch": "amd64"}
    ]});
    let r = admin
        .put(&format!("/api/v1/assets/{id}/packages"), &inv)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["added"], 2);
    let r = admin
        .put(&format!("/api/v1/assets/{id}/packages"), &inv)
        .await;
    assert_eq!(r.json["unchanged"], 2);
    let r = admin.get(&format!("/api/v1/assets/{id}/packages")).await;
    assert_eq!(r.json["packages"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["format"], "deb");
    let a = admin.get(&format!("/api/v1/assets/{id}")).await;
    assert_eq!(a.json["package_count"], 2);
    assert!(a.json["last_seen_at"].is_string());

    let r = admin.delete(&format!("/api/v1/assets/{id}")).await;
    assert_eq!(r.status, 204);
    let r = admin.get(&format!("/api/v1/assets/{id}")).await;
    assert_eq!(r.status, 404);
}
