//! Every route × every role: allowed or denied exactly as the route's declared access
//! and the role table say.

use patchwarden_domain::role::Role;
use patchwarden_server::api::{routes, Access};
use patchwarden_testkit::TestServer;
use serde_json::json;

#[tokio::test]
async fn every_route_for_every_role() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let asset = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "matrix-host", "environment": "qa"}),
        )
        .await;
    assert_eq!(asset.status, 201);
    let asset_id = asset.json["id"].as_i64().unwrap();

    // One user per role, plus one with no role at all.
    let mut subjects = Vec::new();
    for role in Role::ALL {
        let name = format!("matrix-{}", role.as_str().replace('_', "-"));
        let (user, client) = ts.user_with_roles(&name, &[*role]).await;
        subjects.push((Some(*role), user, client));
    }
    let (user, client) = ts.user_with_roles("matrix-nobody", &[]).await;
    subjects.push((None, user, client));

    let (_, ops) = routes();
    let mut checked = 0;
    for op in &ops {
        // Logging out or changing a password would end the credentials under test;
        // their access rules are covered in auth_flow.
        let skip = op.path == "/api/v1/auth/logout" || op.path.ends_with("/password");
        for (role, user, client) in subjects.iter().filter(|_| !skip) {
            let id = if op.path.starts_with("/api/v1/users") {
                user.id.get()
            } else if op.path.starts_with("/api/v1/tokens") {
                999_999
            } else {
                asset_id
            };
            let path = op.path.replace("{id}", &id.to_string());
            let body = op.body.map(|_| json!({}));
            let r = client.send(op.method.clone(), &path, body.as_ref()).await;
            let expect_allowed = match op.access {
                Access::Public | Access::Authenticated => true,
                Access::Permission(p) => role.is_some_and(|r| r.allows(p)),
            };
            let who = role.map_or("no role".to_owned(), |r| r.to_string());
            if expect_allowed {
                assert!(
                    r.status != 401 && r.status != 403,
                    "{who} should be allowed {} {path}: {} {}",
                    op.method,
                    r.status,
                    r.text
                );
            } else {
                assert_eq!(
                    r.status, 403,
                    "{who} must be denied {} {path}: {}",
                    op.method, r.text
                );
                assert_eq!(r.code(), "forbidden");
            }
            checked += 1;
        }
        // Without credentials only public routes answer.
        let r = ts.anonymous().send(op.method.clone(), op.path, None).await;
        if op.access == Access::Public {
            assert_ne!(r.status, 401, "{} {}", op.method, op.path);
        } else {
            assert_eq!(
                r.status, 401,
                "{} {} must need authentication",
                op.method, op.path
            );
            assert_eq!(r.code(), "unauthenticated");
        }
    }
    assert!(checked > 150, "only {checked} checks");
    // The matrix really denied something and allowed something for every role.
    for role in Role::ALL {
        let denied = ops
            .iter()
            .filter(|o| matches!(o.access, Access::Permission(p) if !role.allows(p)))
            .count();
        if *role == Role::Administrator {
            assert_eq!(denied, 0);
        } else {
            assert!(denied > 0, "{role} is denied nothing");
        }
    }
}
