//! The audit chain: every mutation is recorded, filters work, and concurrent writers
//! still produce a gap-free, verifiable chain.

use crate::fixtures::{all_events, ctx, new_asset, new_user, pkg, t, t0};
use crate::{verify_chain, SharedStore};
use patchwarden_domain::audit::{Actor, AuditDraft, Origin, GENESIS_HASH};
use patchwarden_domain::package::PackageFormat;
use patchwarden_store::{AssetFilter, AssetPatch, AuditFilter, NewSession, NewToken, UserPatch};

pub(crate) async fn every_mutation_is_audited(s: SharedStore) {
    assert_eq!(
        s.audit_head().await.unwrap(),
        None,
        "a fresh store has no events"
    );
    assert_eq!(verify_chain(s.as_ref()).await, Ok(0));
    let a = s
        .create_asset(&ctx(t(1)), &new_asset("web-01.example.org", &["web"]))
        .await
        .unwrap();
    s.update_asset(
        &ctx(t(2)),
        a.id,
        &AssetPatch {
            owner: Some(None),
            ..AssetPatch::default()
        },
    )
    .await
    .unwrap();
    s.replace_inventory(
        &ctx(t(3)),
        a.id,
        PackageFormat::Deb,
        &[pkg("a", "amd64", "1")],
    )
    .await
    .unwrap();
    let u = s.create_user(&ctx(t(4)), &new_user("alice")).await.unwrap();
    s.update_user(
        &ctx(t(5)),
        u.id,
        &UserPatch {
            disabled: Some(true),
            ..UserPatch::default()
        },
    )
    .await
    .unwrap();
    s.set_password(&ctx(t(6)), u.id, "$argon2id$x", false)
        .await
        .unwrap();
    let session = NewSession {
        token_hash: "h".into(),
        csrf_token: "c".into(),
        user_id: u.id,
        expires_at: t(1000),
        source_ip: None,
        user_agent: None,
    };
    s.create_session(&ctx(t(7)), &session).await.unwrap();
    s.delete_session(&ctx(t(8)), "h").await.unwrap();
    let new_token = NewToken {
        user_id: u.id,
        name: "ci".into(),
        prefix: "pw_ci".into(),
        token_hash: "th".into(),
        expires_at: None,
    };
    let tok = s.create_token(&ctx(t(9)), &new_token).await.unwrap();
    s.revoke_token(&ctx(t(10)), tok.id).await.unwrap();
    s.delete_asset(&ctx(t(11)), a.id).await.unwrap();
    // Reads and unaudited writes add nothing.
    assert!(s.get_asset(a.id).await.is_err());
    s.list_assets(&AssetFilter::default()).await.unwrap();
    s.touch_token(tok.id, t(12)).await.unwrap();
    s.record_login_failure(&["user:x".into()], t(12))
        .await
        .unwrap();

    let events = all_events(&s).await;
    let got: Vec<(i64, &str, Option<String>)> = events
        .iter()
        .map(|e| (e.seq.get(), e.action.as_str(), e.target_id.clone()))
        .collect();
    let (aid, uid, tid) = (
        Some(a.id.to_string()),
        Some(u.id.to_string()),
        Some(tok.id.to_string()),
    );
    let want = vec![
        (1, "asset.create", aid.clone()),
        (2, "asset.update", aid.clone()),
        (3, "asset.inventory", aid.clone()),
        (4, "user.create", uid.clone()),
        (5, "user.update", uid.clone()),
        (6, "user.password", uid.clone()),
        (7, "session.login", uid.clone()),
        (8, "session.logout", uid.clone()),
        (9, "token.create", tid.clone()),
        (10, "token.revoke", tid.clone()),
        (11, "asset.delete", aid.clone()),
    ];
    assert_eq!(got, want);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.at, t(i as i64 + 1), "event time is ctx.at, exactly");
        assert_eq!(e.actor, ctx(t0()).actor);
        assert_eq!(e.origin, ctx(t0()).origin);
    }
    assert_eq!(events[0].prev_hash, GENESIS_HASH);
    assert!(events.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    let head = s.audit_head().await.unwrap().unwrap();
    assert_eq!(head, (11, events[10].hash.clone()));
    assert_eq!(verify_chain(s.as_ref()).await, Ok(11));
}

pub(crate) async fn standalone_events_and_filters(s: SharedStore) {
    let actor = Actor::system("cli");
    let origin = Origin::default();
    let d = AuditDraft::new(&actor, &origin, "login.failure", "user")
        .target("mallory")
        .after(&serde_json::json!({ "reason": "bad password", "ip": "203.0.113.9" }));
    let ev = s.append_audit(&ctx(t(1)), d.clone()).await.unwrap();
    assert_eq!(
        (ev.seq.get(), ev.at, ev.prev_hash.as_str()),
        (1, t(1), GENESIS_HASH)
    );
    assert_eq!(ev.actor, actor, "the draft's actor is kept");
    assert_eq!(ev.after, d.after);
    let stored = all_events(&s).await;
    assert_eq!(stored, vec![ev.clone()], "events round-trip exactly");

    let a = s
        .create_asset(&ctx(t(2)), &new_asset("web-01.example.org", &[]))
        .await
        .unwrap();
    let b = s
        .create_asset(&ctx(t(3)), &new_asset("web-02.example.org", &[]))
        .await
        .unwrap();
    s.update_asset(&ctx(t(4)), a.id, &AssetPatch::default())
        .await
        .unwrap();
    s.append_audit(
        &ctx(t(5)),
        AuditDraft::new(&actor, &origin, "system.start", "system"),
    )
    .await
    .unwrap();
    let seqs = |f: AuditFilter| {
        let s = s.clone();
        async move {
            s.list_audit(&f)
                .await
                .unwrap()
                .iter()
                .map(|e| e.seq.get())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seqs(AuditFilter::default()).await, [1, 2, 3, 4, 5]);
    assert_eq!(
        seqs(AuditFilter {
            after: Some(2),
            limit: 2,
            ..AuditFilter::default()
        })
        .await,
        [3, 4]
    );
    let prefix = |p: &str| AuditFilter {
        action_prefix: Some(p.into()),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(prefix("asset.")).await, [2, 3, 4]);
    assert_eq!(seqs(prefix("asset.c")).await, [2, 3]);
    assert_eq!(
        seqs(prefix("ASSET.")).await,
        Vec::<i64>::new(),
        "prefix is case-sensitive"
    );
    assert_eq!(
        seqs(prefix("%")).await,
        Vec::<i64>::new(),
        "prefix is not a pattern"
    );
    let target = AuditFilter {
        target_type: Some("asset".into()),
        target_id: Some(a.id.to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(target).await, [2, 4]);
    let by_type = AuditFilter {
        target_type: Some("asset".into()),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(by_type).await, [2, 3, 4]);
    assert_eq!(
        seqs(AuditFilter {
            limit: 0,
            ..AuditFilter::default()
        })
        .await,
        Vec::<i64>::new()
    );
    assert_ne!(a.id, b.id);
    assert_eq!(verify_chain(s.as_ref()).await, Ok(5));
}

pub(crate) async fn concurrent_writers(s: SharedStore) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let host = format!("host-{i:02}.example.org");
            let a = s
                .create_asset(&ctx(t(i)), &new_asset(&host, &["fleet"]))
                .await
                .unwrap();
            let inv = [pkg("openssl", "amd64", &format!("3.0.{i}"))];
            s.replace_inventory(&ctx(t(i + 100)), a.id, PackageFormat::Deb, &inv)
                .await
                .unwrap();
            let d = AuditDraft::new(
                &Actor::system("agent"),
                &Origin::default(),
                "agent.report",
                "asset",
            )
            .target(a.id);
            s.append_audit(&ctx(t(i + 200)), d).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.expect("writer task panicked");
    }
    let events = all_events(&s).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq.get()).collect();
    assert_eq!(
        seqs,
        (1..=60).collect::<Vec<_>>(),
        "gap-free sequence under concurrency"
    );
    assert_eq!(s.count_assets().await.unwrap(), 20);
    assert_eq!(s.audit_head().await.unwrap().map(|h| h.0), Some(60));
    assert_eq!(verify_chain(s.as_ref()).await, Ok(60));
}
