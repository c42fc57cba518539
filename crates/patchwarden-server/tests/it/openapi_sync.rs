//! The OpenAPI document stays in sync with the routes.

use patchwarden_server::api::routes;
use patchwarden_testkit::TestServer;
use serde_json::Value;

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.push(v.as_str().unwrap_or_default().to_owned());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let doc = ts.anonymous().get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc = doc.json;
    assert_eq!(doc["openapi"], "3.1.0");

    // Every registered route is in the served document ...
    let (_, ops) = routes();
    assert!(ops.len() >= 25, "{} routes", ops.len());
    for op in &ops {
        let method = op.method.as_str().to_ascii_lowercase();
        let entry = &doc["paths"][op.path][&method];
        assert!(
            entry.is_object(),
            "{} {} missing from openapi.json",
            op.method,
            op.path
        );
        assert!(entry["responses"][op.status.to_string()].is_object());
    }
    // ... and the document lists nothing else.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ops.len());

    // Every schema reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }

    // Every documented path is served: never the router's 404/405 fallback.
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            let url = path.replace("{id}", "999999");
            let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let body = (m != reqwest::Method::GET && m != reqwest::Method::DELETE)
                .then(|| serde_json::json!({}));
            let r = admin.send(m.clone(), &url, body.as_ref()).await;
            assert_ne!(
                r.code(),
                "no_such_route",
                "{m} {path} is documented but not routed"
            );
            assert_ne!(
                r.code(),
                "method_not_allowed",
                "{m} {path} is documented but not routed"
            );
        }
    }
}
