//! Assets: create, read, update, delete, conflicts, filters, pagination.

use crate::fixtures::{ctx, last_event, new_asset, t, t0};
use crate::SharedStore;
use patchwarden_domain::asset::{Criticality, Environment, Hostname, Label};
use patchwarden_domain::ids::AssetId;
use patchwarden_store::{AssetFilter, AssetPatch, StoreError};

pub(crate) async fn crud_and_conflicts(s: SharedStore) {
    let a = s
        .create_asset(
            &ctx(t0()),
            &new_asset("Web-01.example.org", &["web", "eu-west"]),
        )
        .await
        .unwrap();
    assert_eq!(a.hostname.as_str(), "web-01.example.org");
    assert_eq!(a.created_at, t0(), "timestamps keep their microseconds");
    assert_eq!(a.updated_at, t0());
    assert_eq!(a.package_count, 0);
    assert_eq!(a.inventory_hash, None);
    assert_eq!(a.last_seen_at, None);
    let groups: Vec<&str> = a.groups.iter().map(Label::as_str).collect();
    assert_eq!(groups, ["eu-west", "web"], "groups come back sorted");
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_type.as_str()),
        ("asset.create", "asset")
    );
    assert_eq!(ev.target_id, Some(a.id.to_string()));
    assert_eq!(ev.at, t0());
    assert_eq!(ev.origin.source_ip.as_deref(), Some("192.0.2.10"));

    assert_eq!(s.get_asset(a.id).await.unwrap(), a);
    assert_eq!(
        s.find_asset_by_hostname("WEB-01.example.org")
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.find_asset_by_hostname("nope.example.org").await.unwrap(),
        None
    );
    let missing = AssetId::new(a.id.get() + 1000);
    assert!(matches!(
        s.get_asset(missing).await,
        Err(StoreError::NotFound { .. })
    ));

    let dup = s
        .create_asset(&ctx(t(1)), &new_asset("web-01.example.org", &[]))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    let b = s
        .create_asset(&ctx(t(2)), &new_asset("db-01.example.org", &[]))
        .await
        .unwrap();
    assert_eq!(s.count_assets().await.unwrap(), 2);

    let patch = AssetPatch {
        criticality: Some(Criticality::MissionCritical),
        owner: Some(None),
        groups: Some(vec![Label::parse("db").unwrap()]),
        protected_data: Some(true),
        ..AssetPatch::default()
    };
    let u = s.update_asset(&ctx(t(3)), a.id, &patch).await.unwrap();
    assert_eq!(u.criticality, Criticality::MissionCritical);
    assert_eq!(u.owner, None);
    assert!(u.protected_data);
    assert_eq!(u.groups, vec![Label::parse("db").unwrap()]);
    assert_eq!((u.created_at, u.updated_at), (t0(), t(3)));
    assert_eq!(u.hostname, a.hostname, "fields that are None stay");
    assert_eq!(s.get_asset(a.id).await.unwrap(), u);
    let ev = last_event(&s).await;
    assert_eq!(ev.action, "asset.update");
    assert!(ev.before.as_deref().unwrap().contains("ops@example.org"));
    assert!(ev.after.as_deref().unwrap().contains("mission_critical"));

    let rename = AssetPatch {
        hostname: Some(Hostname::parse("db-01.example.org").unwrap()),
        ..AssetPatch::default()
    };
    let r = s.update_asset(&ctx(t(4)), a.id, &rename).await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
    let r = s
        .update_asset(&ctx(t(4)), missing, &AssetPatch::default())
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");

    s.delete_asset(&ctx(t(5)), a.id).await.unwrap();
    assert!(matches!(
        s.get_asset(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.delete_asset(&ctx(t(6)), a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_id),
        ("asset.delete", Some(a.id.to_string()))
    );
    assert_eq!(s.count_assets().await.unwrap(), 1);
    assert_eq!(s.get_asset(b.id).await.unwrap(), b);
    // The freed host name can be used again, with a new id.
    let c = s
        .create_asset(&ctx(t(7)), &new_asset("web-01.example.org", &[]))
        .await
        .unwrap();
    assert!(c.id > b.id);
    assert!(c.groups.is_empty(), "groups of the deleted asset are gone");
}

pub(crate) async fn filters_and_pagination(s: SharedStore) {
    let specs: [(&str, Environment, Criticality, &[&str]); 7] = [
        (
            "web-01.prod.example",
            Environment::Production,
            Criticality::MissionCritical,
            &["web"],
        ),
        (
            "web-02.prod.example",
            Environment::Production,
            Criticality::Standard,
            &["web"],
        ),
        (
            "DB-01.prod.example",
            Environment::Production,
            Criticality::MissionCritical,
            &["db"],
        ),
        (
            "db-02.stage.example",
            Environment::Staging,
            Criticality::BusinessCritical,
            &["db"],
        ),
        (
            "web-03.qa.example",
            Environment::Qa,
            Criticality::Standard,
            &["web", "qa"],
        ),
        (
            "mail.prod.example",
            Environment::Production,
            Criticality::BusinessCritical,
            &[],
        ),
        (
            "jump.dev.example",
            Environment::Development,
            Criticality::Standard,
            &["mgmt"],
        ),
    ];
    let mut ids = Vec::new();
    for (i, (host, env, crit, groups)) in specs.iter().enumerate() {
        let mut n = new_asset(host, groups);
        n.environment = *env;
        n.criticality = *crit;
        ids.push(s.create_asset(&ctx(t(i as i64)), &n).await.unwrap().id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");
    assert_eq!(s.count_assets().await.unwrap(), 7);

    let list = |f: AssetFilter| {
        let s = s.clone();
        async move {
            s.list_assets(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(AssetFilter::default()).await, ids);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = list(AssetFilter {
            after,
            limit: 3,
            ..AssetFilter::default()
        })
        .await;
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(*last);
        seen.extend(page);
    }
    assert_eq!(
        seen, ids,
        "keyset pages cover every asset once, in id order"
    );

    let env = list(AssetFilter {
        environment: Some(Environment::Production),
        ..AssetFilter::default()
    })
    .await;
    assert_eq!(env, [ids[0], ids[1], ids[2], ids[5]]);
    let crit = list(AssetFilter {
        criticality: Some(Criticality::MissionCritical),
        ..AssetFilter::default()
    })
    .await;
    assert_eq!(crit, [ids[0], ids[2]]);
    let web = AssetFilter {
        group: Some(Label::parse("web").unwrap()),
        ..AssetFilter::default()
    };
    assert_eq!(list(web.clone()).await, [ids[0], ids[1], ids[4]]);
    let db = list(AssetFilter {
        hostname_contains: Some("DB-0".into()),
        ..AssetFilter::default()
    })
    .await;
    assert_eq!(db, [ids[2], ids[3]], "host name search ignores case");
    let combined = AssetFilter {
        environment: Some(Environment::Production),
        criticality: Some(Criticality::Standard),
        hostname_contains: Some("web".into()),
        ..web.clone()
    };
    assert_eq!(list(combined).await, [ids[1]]);
    assert_eq!(
        list(AssetFilter {
            after: Some(ids[0]),
            limit: 2,
            ..web
        })
        .await,
        [ids[1], ids[4]]
    );
    let none = list(AssetFilter {
        group: Some(Label::parse("nothing").unwrap()),
        ..AssetFilter::default()
    })
    .await;
    assert!(none.is_empty());
    let pct = list(AssetFilter {
        hostname_contains: Some("%".into()),
        ..AssetFilter::default()
    })
    .await;
    assert!(pct.is_empty(), "search text is not a pattern");
}
