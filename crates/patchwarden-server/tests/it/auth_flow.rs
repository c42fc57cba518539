//! Login sessions, CSRF, throttling, one-time passwords, API tokens.

use jiff::SignedDuration;
use patchwarden_domain::role::Role;
use patchwarden_server::service::users::bootstrap_admin;
use patchwarden_testkit::{Client, TestServer};
use serde_json::json;

async fn login(ts: &TestServer, user: &str, pw: &str) -> (Client, patchwarden_testkit::Resp) {
    let mut c = ts.anonymous();
    let r = c
        .post(
            "/api/v1/auth/login",
            &json!({"username": user, "password": pw}),
        )
        .await;
    if let Some(csrf) = r.json["csrf_token"].as_str() {
        c.csrf = Some(csrf.to_owned());
    }
    (c, r)
}

#[tokio::test]
async fn session_login_cookie_csrf_and_logout() {
    let ts = TestServer::start().await;
    ts.user_with_roles("olivia", &[Role::Operator]).await;
    let (mut c, r) = login(&ts, "olivia", "password-olivia").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("pw_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag: {cookie}"
    );

    let me = c.get("/api/v1/auth/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["username"], "olivia");

    // A change through the cookie needs the anti-CSRF header.
    let csrf = c.csrf.take();
    let r = c
        .post(
            "/api/v1/assets",
            &json!({"hostname": "h1", "environment": "qa"}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "csrf_failed");
    c.csrf = Some("wrong".into());
    let r = c
        .post(
            "/api/v1/assets",
            &json!({"hostname": "h1", "environment": "qa"}),
        )
        .await;
    assert_eq!(r.code(), "csrf_failed");
    c.csrf = csrf;
    let r = c
        .post(
            "/api/v1/assets",
            &json!({"hostname": "h1", "environment": "qa"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // The audit log names the user and where the change came from.
    let ev = ts
        .store()
        .list_audit(&patchwarden_store::AuditFilter {
            action_prefix: Some("asset.create".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].actor.name, "olivia");
    assert_eq!(ev[0].origin.source_ip.as_deref(), Some("127.0.0.1"));
    assert!(ev[0].origin.request_id.is_some());

    let r = c.post("/api/v1/auth/logout", &json!({})).await;
    assert_eq!(r.status, 204);
    let r = c.get("/api/v1/auth/me").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn sessions_expire() {
    let ts = TestServer::start_with(|c| c.auth.session_ttl_minutes = 30).await;
    ts.user_with_roles("sam", &[Role::Auditor]).await;
    let (c, r) = login(&ts, "sam", "password-sam").await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get("/api/v1/auth/me").await.status, 200);
    ts.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(c.get("/api/v1/auth/me").await.status, 401);
}

async fn login_from(ts: &TestServer, ip: &str, user: &str, pw: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", ts.base))
        .header("x-forwarded-for", ip)
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_audited() {
    let ts = TestServer::start_with(|c| {
        c.auth.login_max_failures = 3;
        c.auth.login_window_secs = 600;
    })
    .await;
    ts.user_with_roles("gina", &[Role::Security]).await;
    // Unknown users and wrong passwords get the same answer.
    let (_, r) = login(&ts, "nobody-here", "whatever-password").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "invalid_credentials");
    for _ in 0..2 {
        let (_, r) = login(&ts, "gina", "not-her-password").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.code(), "invalid_credentials");
    }
    // Three failures from this address: even the right password is refused now.
    let (_, r) = login(&ts, "gina", "password-gina").await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.code(), "too_many_login_attempts");
    assert!(r.headers.get("retry-after").is_some());
    ts.clock.advance(SignedDuration::from_secs(601));
    let (_, r) = login(&ts, "gina", "password-gina").await;
    assert_eq!(r.status, 200, "{}", r.text);

    let failed = ts
        .store()
        .list_audit(&patchwarden_store::AuditFilter {
            action_prefix: Some("session.login_failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 3);
    assert_eq!(failed[1].target_id.as_deref(), Some("gina"));
}

#[tokio::test]
async fn guessing_one_user_from_many_addresses_is_throttled_too() {
    let ts = TestServer::start_with(|c| {
        c.auth.login_max_failures = 3;
        c.server.trust_forwarded_for = true;
    })
    .await;
    ts.user_with_roles("hank", &[Role::Auditor]).await;
    for i in 0..3 {
        let s = login_from(&ts, &format!("192.0.2.{i}"), "hank", "guess-guess-guess").await;
        assert_eq!(s, 401);
    }
    assert_eq!(
        login_from(&ts, "192.0.2.77", "hank", "password-hank").await,
        429
    );
    // Another user from a fresh address is not affected.
    ts.user_with_roles("ivy", &[Role::Auditor]).await;
    assert_eq!(
        login_from(&ts, "192.0.2.78", "ivy", "password-ivy").await,
        200
    );
}

#[tokio::test]
async fn first_run_admin_must_change_the_one_time_password() {
    let ts = TestServer::start().await;
    let (name, pw) = bootstrap_admin(&ts.state)
        .await
        .unwrap()
        .expect("first run");
    assert_eq!(name, "admin");
    assert!(pw.len() >= 20);
    // Never twice.
    assert!(bootstrap_admin(&ts.state).await.unwrap().is_none());

    let (c, r) = login(&ts, "admin", &pw).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["must_change_password"], true);
    let r = c.get("/api/v1/assets").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "password_change_required");
    let r = c.post("/api/v1/tokens", &json!({"name": "ci"})).await;
    assert_eq!(r.code(), "password_change_required");
    let r = c
        .post(
            "/api/v1/auth/password",
            &json!({"current_password": "wrong", "new_password": "a much better passphrase"}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post(
            "/api/v1/auth/password",
            &json!({"current_password": pw, "new_password": "short"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = c
        .post(
            "/api/v1/auth/password",
            &json!({"current_password": pw, "new_password": "a much better passphrase"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(c.get("/api/v1/assets").await.status, 200);
    let (_, r) = login(&ts, "admin", &pw).await;
    assert_eq!(r.status, 401, "the one-time password is gone");
}

#[tokio::test]
async fn api_tokens_shown_once_hashed_revocable_and_expiring() {
    let ts = TestServer::start().await;
    let (_, op) = ts.user_with_roles("otto", &[Role::Operator]).await;
    let r = op
        .post(
            "/api/v1/tokens",
            &json!({"name": "deploy bot", "expires_in_days": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pw_"));
    let id = r.json["token"]["id"].as_i64().unwrap();
    // The secret is not stored, only its hash.
    let listed = op.get("/api/v1/tokens").await;
    assert!(!listed.text.contains(&secret));
    assert!(listed.text.contains("deploy bot"));

    let bot = Client::new(&ts.base, Some(secret.clone()));
    assert_eq!(bot.get("/api/v1/assets").await.status, 200);
    // Expiry.
    ts.clock.advance(SignedDuration::from_hours(25));
    assert_eq!(bot.get("/api/v1/assets").await.status, 401);

    // Revocation, by its owner; someone else cannot even see it.
    let r = op.post("/api/v1/tokens", &json!({"name": "second"})).await;
    let secret2 = r.json["secret"].as_str().unwrap().to_owned();
    let id2 = r.json["token"]["id"].as_i64().unwrap();
    let bot2 = Client::new(&ts.base, Some(secret2));
    assert_eq!(bot2.get("/api/v1/assets").await.status, 200);
    let (_, other) = ts.user_with_roles("eve", &[Role::Security]).await;
    assert_eq!(
        other.delete(&format!("/api/v1/tokens/{id2}")).await.status,
        404
    );
    let r = op.delete(&format!("/api/v1/tokens/{id2}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["revoked_at"].is_string());
    assert_eq!(bot2.get("/api/v1/assets").await.status, 401);
    let _ = id;
    // Garbage bearer values are plain 401s.
    for bad in ["", "pw_", "Basic abc", "pw_nonsense"] {
        let c = Client::new(&ts.base, Some(bad.to_owned()));
        let r = c.get("/api/v1/assets").await;
        assert_eq!(r.status, 401, "{bad:?}");
    }
}

#[tokio::test]
async fn disabled_users_lose_access() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let (user, c) = ts.user_with_roles("dora", &[Role::Operator]).await;
    assert_eq!(c.get("/api/v1/assets").await.status, 200);
    let r = admin
        .patch(
            &format!("/api/v1/users/{}", user.id),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(c.get("/api/v1/assets").await.status, 401);
    let (_, r) = login(&ts, "dora", "password-dora").await;
    assert_eq!(r.status, 401);
}
