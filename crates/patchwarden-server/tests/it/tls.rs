//! HTTPS on the listener with rustls; cookies become Secure.

use patchwarden_testkit::{Client, TestServer};
use serde_json::json;

#[tokio::test]
async fn serves_https_with_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let (cf, kf) = (cert_file.clone(), key_file.clone());
    let ts = TestServer::start_with(move |c| {
        c.server.tls_cert_file = Some(cf);
        c.server.tls_key_file = Some(kf);
    })
    .await;
    assert!(ts.base.starts_with("https://"), "{}", ts.base);
    ts.user_with_roles("tess", &[patchwarden_domain::role::Role::Auditor])
        .await;

    let ca = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .cookie_store(true)
        .build()
        .unwrap();
    let c = Client {
        http,
        base: ts.base.replace("127.0.0.1", "localhost"),
        token: None,
        csrf: None,
    };
    let r = c.get("/healthz").await;
    assert_eq!(r.status, 200);
    let r = c
        .post(
            "/api/v1/auth/login",
            &json!({"username": "tess", "password": "password-tess"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(c.get("/api/v1/auth/me").await.status, 200);

    // Plain HTTP to the TLS port is refused, not served.
    let plain = reqwest::get(ts.base.replace("https://", "http://") + "/healthz").await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
