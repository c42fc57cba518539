//! API tokens and login-failure throttling.

use crate::fixtures::{all_events, ctx, last_event, new_user, t, t0};
use crate::SharedStore;
use patchwarden_domain::ids::{TokenId, UserId};
use patchwarden_store::{NewToken, StoreError};

fn token(user: UserId, name: &str, expires_secs: Option<i64>) -> NewToken {
    NewToken {
        user_id: user,
        name: name.into(),
        prefix: format!("pw_{name}"),
        token_hash: format!("hash-{name}"),
        expires_at: expires_secs.map(t),
    }
}

pub(crate) async fn tokens(s: SharedStore) {
    let alice = s.create_user(&ctx(t0()), &new_user("alice")).await.unwrap();
    let bob = s.create_user(&ctx(t0()), &new_user("bob")).await.unwrap();
    let ci = s
        .create_token(&ctx(t(10)), &token(alice.id, "ci", None))
        .await
        .unwrap();
    assert_eq!(
        (ci.user_id, ci.name.as_str(), ci.prefix.as_str()),
        (alice.id, "ci", "pw_ci")
    );
    assert_eq!(
        (ci.created_at, ci.expires_at, ci.last_used_at, ci.revoked_at),
        (t(10), None, None, None)
    );
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("token.create", Some(ci.id.to_string()))
    );
    assert!(
        !ev.after.as_deref().unwrap().contains("hash-ci"),
        "the secret hash is never audited"
    );
    let short = s
        .create_token(&ctx(t(20)), &token(alice.id, "short", Some(100)))
        .await
        .unwrap();
    let other = s
        .create_token(&ctx(t(30)), &token(bob.id, "other", None))
        .await
        .unwrap();
    let dup = s
        .create_token(&ctx(t(31)), &token(bob.id, "other", None))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    let orphan = s
        .create_token(
            &ctx(t(32)),
            &token(UserId::new(bob.id.get() + 1000), "x", None),
        )
        .await;
    assert!(
        matches!(orphan, Err(StoreError::NotFound { .. })),
        "{orphan:?}"
    );

    let (found, owner) = s.find_token("hash-ci", t(40)).await.unwrap().unwrap();
    assert_eq!((found, owner.id), (ci.clone(), alice.id));
    assert!(s.find_token("hash-short", t(99)).await.unwrap().is_some());
    assert!(
        s.find_token("hash-short", t(100)).await.unwrap().is_none(),
        "expired at expires_at"
    );
    assert!(s.find_token("hash-nope", t(40)).await.unwrap().is_none());

    let ids = |v: Vec<patchwarden_store::ApiToken>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_tokens(Some(alice.id)).await.unwrap()),
        [short.id, ci.id],
        "newest first"
    );
    assert_eq!(
        ids(s.list_tokens(None).await.unwrap()),
        [other.id, short.id, ci.id]
    );
    assert!(s
        .list_tokens(Some(UserId::new(bob.id.get() + 1000)))
        .await
        .unwrap()
        .is_empty());

    s.touch_token(ci.id, t(50)).await.unwrap();
    assert_eq!(s.get_token(ci.id).await.unwrap().last_used_at, Some(t(50)));
    let missing = TokenId::new(other.id.get() + 1000);
    assert!(matches!(
        s.touch_token(missing, t(50)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.get_token(missing).await,
        Err(StoreError::NotFound { .. })
    ));

    let revoked = s.revoke_token(&ctx(t(60)), ci.id).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(t(60)));
    assert!(!revoked.is_active(t(61)));
    assert!(s.find_token("hash-ci", t(61)).await.unwrap().is_none());
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("token.revoke", Some(ci.id.to_string()))
    );
    let events = all_events(&s).await.len();
    let again = s.revoke_token(&ctx(t(70)), ci.id).await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(t(60)),
        "revoking twice keeps the first time"
    );
    assert_eq!(
        all_events(&s).await.len(),
        events,
        "and writes no second event"
    );
    assert!(matches!(
        s.revoke_token(&ctx(t(70)), missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.get_token(ci.id).await.unwrap(), again);
}

pub(crate) async fn login_failures(s: SharedStore) {
    let keys = ["user:alice".to_owned(), "ip:192.0.2.1".to_owned()];
    s.record_login_failure(&keys, t(0)).await.unwrap();
    s.record_login_failure(&keys, t(60)).await.unwrap();
    s.record_login_failure(&keys[1..], t(120)).await.unwrap();
    s.record_login_failure(&[], t(120)).await.unwrap();
    assert_eq!(s.count_login_failures("user:alice", t(0)).await.unwrap(), 2);
    assert_eq!(
        s.count_login_failures("user:alice", t(60)).await.unwrap(),
        1,
        "since is inclusive"
    );
    assert_eq!(
        s.count_login_failures("user:alice", t(61)).await.unwrap(),
        0
    );
    assert_eq!(
        s.count_login_failures("ip:192.0.2.1", t(0)).await.unwrap(),
        3
    );
    assert_eq!(s.count_login_failures("user:bob", t(0)).await.unwrap(), 0);
    s.clear_login_failures("user:alice").await.unwrap();
    assert_eq!(s.count_login_failures("user:alice", t(0)).await.unwrap(), 0);
    assert_eq!(
        s.count_login_failures("ip:192.0.2.1", t(0)).await.unwrap(),
        3,
        "other keys stay"
    );
    s.clear_login_failures("user:nobody").await.unwrap();
}
