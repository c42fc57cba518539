//! Users, credentials and login sessions.

use crate::fixtures::{ctx, last_event, new_user, t, t0};
use crate::SharedStore;
use patchwarden_domain::ids::UserId;
use patchwarden_domain::role::{Role, RoleSet};
use patchwarden_domain::user::Username;
use patchwarden_store::{NewSession, StoreError, UserPatch};

pub(crate) async fn users_crud_and_credentials(s: SharedStore) {
    assert_eq!(s.count_users().await.unwrap(), 0);
    let alice = s.create_user(&ctx(t0()), &new_user("alice")).await.unwrap();
    assert_eq!(alice.username.as_str(), "alice");
    assert_eq!(alice.roles, RoleSet::new([Role::Operator]));
    assert!(!alice.disabled && !alice.must_change_password);
    assert_eq!((alice.created_at, alice.last_login_at), (t0(), None));
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("user.create", Some(alice.id.to_string()))
    );
    assert!(
        !ev.after.as_deref().unwrap().contains("argon2"),
        "the hash is never audited"
    );

    let dup = s.create_user(&ctx(t(1)), &new_user("alice")).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    let bob = s.create_user(&ctx(t(2)), &new_user("bob")).await.unwrap();
    assert_eq!(s.count_users().await.unwrap(), 2);
    let names: Vec<_> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, [alice.username.clone(), bob.username.clone()]);
    assert_eq!(s.get_user(bob.id).await.unwrap(), bob);
    let missing = UserId::new(bob.id.get() + 1000);
    assert!(matches!(
        s.get_user(missing).await,
        Err(StoreError::NotFound { .. })
    ));

    let (u, hash) = s
        .get_user_credentials(&alice.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u, alice);
    assert_eq!(hash, new_user("alice").password_hash);
    let nobody = Username::parse("nobody").unwrap();
    assert!(s.get_user_credentials(&nobody).await.unwrap().is_none());

    let patch = UserPatch {
        display_name: Some("Alice A.".into()),
        email: Some(None),
        roles: Some(RoleSet::new([Role::Administrator, Role::Auditor])),
        disabled: Some(true),
    };
    let a2 = s.update_user(&ctx(t(3)), alice.id, &patch).await.unwrap();
    assert_eq!(a2.display_name, "Alice A.");
    assert_eq!(a2.email, None);
    assert!(a2.roles.contains(Role::Administrator) && a2.roles.contains(Role::Auditor));
    assert!(a2.disabled);
    assert_eq!((a2.created_at, a2.updated_at), (t0(), t(3)));
    assert_eq!(s.get_user(alice.id).await.unwrap(), a2);
    let ev = last_event(&s).await;
    assert_eq!(ev.action, "user.update");
    assert!(ev.before.as_deref().unwrap().contains("alice@example.org"));
    let r = s
        .update_user(&ctx(t(3)), missing, &UserPatch::default())
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");

    s.set_password(&ctx(t(4)), alice.id, "$argon2id$new", true)
        .await
        .unwrap();
    let (u, hash) = s
        .get_user_credentials(&alice.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "$argon2id$new");
    assert!(u.must_change_password);
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("user.password", Some(alice.id.to_string()))
    );
    assert!(
        !ev.after.as_deref().unwrap().contains("argon2"),
        "the hash is never audited"
    );
    let r = s.set_password(&ctx(t(5)), missing, "x", false).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
}

fn session(user: UserId, secret: &str, expires_secs: i64) -> NewSession {
    NewSession {
        token_hash: format!("hash-{secret}"),
        csrf_token: format!("csrf-{secret}"),
        user_id: user,
        expires_at: t(expires_secs),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("test".into()),
    }
}

pub(crate) async fn sessions(s: SharedStore) {
    let alice = s.create_user(&ctx(t0()), &new_user("alice")).await.unwrap();
    let bob = s.create_user(&ctx(t0()), &new_user("bob")).await.unwrap();
    s.create_session(&ctx(t(10)), &session(alice.id, "a1", 3600))
        .await
        .unwrap();
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("session.login", Some(alice.id.to_string()))
    );
    assert_eq!(
        s.get_user(alice.id).await.unwrap().last_login_at,
        Some(t(10))
    );

    let (sess, user) = s.get_session("hash-a1", t(20)).await.unwrap().unwrap();
    assert_eq!(sess.user_id, alice.id);
    assert_eq!(sess.csrf_token, "csrf-a1");
    assert_eq!((sess.created_at, sess.expires_at), (t(10), t(3600)));
    assert_eq!(sess.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(user.id, alice.id);
    assert!(
        s.get_session("hash-a1", t(3600)).await.unwrap().is_none(),
        "expired at expires_at"
    );
    assert!(s.get_session("hash-a1", t(7200)).await.unwrap().is_none());
    assert!(s
        .get_session("hash-unknown", t(20))
        .await
        .unwrap()
        .is_none());

    let r = s
        .create_session(
            &ctx(t(10)),
            &session(UserId::new(bob.id.get() + 1000), "x", 60),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");

    s.delete_session(&ctx(t(30)), "hash-a1").await.unwrap();
    assert!(s.get_session("hash-a1", t(31)).await.unwrap().is_none());
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("session.logout", Some(alice.id.to_string()))
    );
    s.delete_session(&ctx(t(31)), "hash-a1").await.unwrap();

    s.create_session(&ctx(t(40)), &session(alice.id, "a2", 3600))
        .await
        .unwrap();
    s.create_session(&ctx(t(40)), &session(alice.id, "a3", 100))
        .await
        .unwrap();
    s.create_session(&ctx(t(40)), &session(bob.id, "b1", 100))
        .await
        .unwrap();
    s.create_session(&ctx(t(40)), &session(bob.id, "b2", 3600))
        .await
        .unwrap();
    assert_eq!(s.delete_user_sessions(alice.id).await.unwrap(), 2);
    assert!(s.get_session("hash-a2", t(50)).await.unwrap().is_none());
    assert!(s.get_session("hash-b1", t(50)).await.unwrap().is_some());
    assert_eq!(
        s.purge_expired_sessions(t(100)).await.unwrap(),
        1,
        "b1 expired at t+100"
    );
    assert_eq!(s.purge_expired_sessions(t(100)).await.unwrap(), 0);
    assert!(s.get_session("hash-b2", t(100)).await.unwrap().is_some());
}
