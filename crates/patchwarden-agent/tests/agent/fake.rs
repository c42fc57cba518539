//! A fake Patchwarden server: a test double of the agent endpoints' contract
//! (`POST /api/v1/agent/enroll`, `POST /api/v1/agent/checkin`), written here because
//! the real endpoints are being built in parallel. It checks what the real server
//! must check (signature over the gzipped body, known agent, revocation) and records
//! what it received. The end-to-end test against the real server process replaces
//! this double for the happy path once those endpoints land.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use flate2::read::GzDecoder;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use patchwarden_wire::agent::{
    CheckIn, CheckInReply, EnrollRequest, EnrollResponse, CHECKIN_FRAMED_MEDIA_TYPE,
};
use patchwarden_wire::job::SignedJob;
use patchwarden_wire::sign::{self, SecretKey};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// One check-in as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Bytes on the wire (gzipped).
    pub wire_len: usize,
    /// Bytes of the body after decompression.
    pub json_len: usize,
    pub gzip: bool,
    /// Sent framed (protocol revision 3) rather than as JSON.
    pub framed: bool,
    pub checkin: CheckIn,
}

#[derive(Debug)]
pub struct Behaviour {
    pub tokens: Vec<String>,
    pub agents: Vec<(i64, String)>,
    pub revoked: bool,
    /// Acknowledge the reports of each check-in.
    pub ack: bool,
    /// Never answer a check-in that carries reports (the agent is killed meanwhile).
    pub hang_on_reports: bool,
    pub hung: usize,
    /// Answer check-ins with this status and body instead.
    pub reply_override: Option<(StatusCode, Vec<u8>)>,
    /// Seconds added to the `Date` header.
    pub date_offset_secs: i64,
    pub next_checkin_secs: u64,
    /// Jobs for the next check-in.
    pub queued: Vec<SignedJob>,
    pub stored_hash: Option<String>,
    pub received: Vec<Received>,
    pub refused: Vec<String>,
}

pub struct Fake {
    pub rt: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub job_key: SecretKey,
    pub state: Arc<Mutex<Behaviour>>,
    tls: Option<TlsAcceptor>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Clone)]
struct App {
    job_key: SecretKey,
    state: Arc<Mutex<Behaviour>>,
}

/// A CA certificate (PEM) and a server certificate for 127.0.0.1 signed by it.
pub fn test_ca() -> (String, TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca.pem(), TlsAcceptor::from(Arc::new(cfg)))
}

impl Fake {
    /// Plain HTTP.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    pub fn start_with(tls: Option<TlsAcceptor>) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fake = Self {
            rt,
            addr,
            job_key: SecretKey::generate(),
            state: Arc::new(Mutex::new(Behaviour {
                tokens: vec!["pwe_good".into()],
                agents: Vec::new(),
                revoked: false,
                ack: true,
                hang_on_reports: false,
                hung: 0,
                reply_override: None,
                date_offset_secs: 0,
                next_checkin_secs: 300,
                queued: Vec::new(),
                stored_hash: None,
                received: Vec::new(),
                refused: Vec::new(),
            })),
            tls,
            task: None,
        };
        fake.serve(listener);
        fake
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/api/v1/agent/enroll", post(enroll))
            .route("/api/v1/agent/checkin", post(checkin))
            .with_state(App {
                job_key: self.job_key.clone(),
                state: self.state.clone(),
            });
        let tls = self.tls.clone();
        self.task = Some(self.rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (app, tls) = (app.clone(), tls.clone());
                tokio::spawn(async move {
                    let svc = TowerToHyperService::new(app);
                    let b = Builder::new(TokioExecutor::new());
                    let _ = match tls {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(s) => b.serve_connection(TokioIo::new(s), svc).await,
                            Err(_) => Ok(()),
                        },
                        None => b.serve_connection(TokioIo::new(stream), svc).await,
                    };
                });
            }
        }));
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The server becomes unreachable (connection refused).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = self.rt.block_on(t);
        }
    }

    /// Reachable again, on the same port.
    pub fn restart(&mut self) {
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind(self.addr))
            .unwrap();
        self.serve(listener);
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Behaviour) -> R) -> R {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Behaviour> {
        self.state.lock().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    pub fn queue(&self, jobs: Vec<SignedJob>) {
        self.lock().queued.extend(jobs);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop();
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": code}});
    (status, axum::Json(body)).into_response()
}

async fn enroll(State(app): State<App>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<EnrollRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_body");
    };
    let mut s = app.state.lock().unwrap();
    let Some(i) = s.tokens.iter().position(|t| *t == req.token) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    s.tokens.remove(i);
    let agent_id = 41 + s.agents.len() as i64;
    s.agents.push((agent_id, req.public_key));
    let resp = EnrollResponse {
        agent_id,
        asset_id: agent_id + 1000,
        server_job_key: app.job_key.public_b64(),
        checkin_interval_secs: 300,
    };
    (StatusCode::CREATED, axum::Json(resp)).into_response()
}

async fn checkin(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let refuse = |why: &str| {
        app.state.lock().unwrap().refused.push(why.to_owned());
        error(StatusCode::UNAUTHORIZED, "unauthenticated")
    };
    let (Some(agent), Some(ts), Some(sig)) = (
        header(sign::HEADER_AGENT_ID),
        header(sign::HEADER_TIMESTAMP),
        header(sign::HEADER_SIGNATURE),
    ) else {
        return refuse("missing headers");
    };
    let (Ok(agent_id), Ok(ts)) = (agent.parse::<i64>(), ts.parse::<i64>()) else {
        return refuse("bad headers");
    };
    let Some(public) = ({
        let s = app.state.lock().unwrap();
        s.agents
            .iter()
            .find(|(id, _)| *id == agent_id)
            .map(|(_, k)| k.clone())
    }) else {
        return refuse("unknown agent");
    };
    let msg = sign::request_message("POST", "/api/v1/agent/checkin", ts, &body);
    if sign::verify(&public, &msg, &sig).is_err() {
        return refuse("bad signature");
    }
    if (jiff::Timestamp::now().as_second() - ts).abs() > sign::MAX_CLOCK_SKEW_SECS {
        return refuse("clock skew");
    }
    if app.state.lock().unwrap().revoked {
        return error(StatusCode::FORBIDDEN, "agent_revoked");
    }
    let gzip = header("content-encoding").as_deref() == Some("gzip");
    let json = if gzip {
        let mut out = Vec::new();
        if GzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
            return error(StatusCode::BAD_REQUEST, "invalid_body");
        }
        out
    } else {
        body.to_vec()
    };
    // As the server reads it: framed when the media type says so, JSON otherwise.
    let framed = header("content-type").as_deref() == Some(CHECKIN_FRAMED_MEDIA_TYPE);
    let read = if framed {
        CheckIn::from_framed(json.clone()).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(&json).map_err(|e| e.to_string())
    };
    let checkin: CheckIn = match read {
        Ok(c) => c,
        Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_body"),
    };
    if let Some(inv) = &checkin.inventory {
        if inv.check().is_err() || inv.inventory_hash != checkin.inventory_hash {
            return error(StatusCode::BAD_REQUEST, "invalid_inventory");
        }
    }
    if !checkin.reports.is_empty() && app.state.lock().unwrap().hang_on_reports {
        app.state.lock().unwrap().hung += 1;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut s = app.state.lock().unwrap();
    s.received.push(Received {
        wire_len: body.len(),
        json_len: json.len(),
        gzip,
        framed,
        checkin: checkin.clone(),
    });
    let mut resp = if let Some((status, body)) = s.reply_override.clone() {
        (status, body).into_response()
    } else {
        if checkin.inventory.is_some() {
            s.stored_hash = Some(checkin.inventory_hash.clone());
        }
        let reply = CheckInReply {
            send_inventory: s.stored_hash.as_deref() != Some(checkin.inventory_hash.as_str()),
            jobs: std::mem::take(&mut s.queued),
            next_checkin_secs: s.next_checkin_secs,
            acknowledged: if s.ack {
                checkin.reports.iter().map(|r| r.job_id.clone()).collect()
            } else {
                Vec::new()
            },
        };
        axum::Json(reply).into_response()
    };
    let date = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(s.date_offset_secs);
    let date = jiff::fmt::rfc2822::to_string(&date.to_zoned(jiff::tz::TimeZone::UTC))
        .unwrap()
        .replace("+0000", "GMT");
    resp.headers_mut().insert("date", date.parse().unwrap());
    resp
}
