//! The REST API under `/api/v1`. Every route is registered through [`ApiBuilder`], which
//! records its method, path, access rule and schemas; the OpenAPI document is generated
//! from that record, and the role-matrix test walks it.

mod agents;
mod assets;
mod audit;
pub mod extract;
mod health;
mod jobs;
mod meta;
mod scans;
mod session;
mod tokens;
mod users;
mod vulns;

pub use agents::{AgentIdentity, AgentSigned};
pub use assets::MAX_PACKAGES;
pub use jobs::schemas as agent_schemas;

use crate::state::AppState;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;
use patchwarden_domain::role::Permission;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication (health checks, the OpenAPI document, login).
    Public,
    /// Any logged-in user or token, even one that must still change a one-time password.
    Authenticated,
    /// A caller whose roles grant this permission.
    Permission(Permission),
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub access: Access,
    /// Request body schema name (components/schemas), if the operation takes a body.
    pub body: Option<&'static str>,
    /// Success status and response schema name (`None`: no body).
    pub status: u16,
    pub response: Option<&'static str>,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
}

impl Op {
    fn new(method: Method, path: &'static str, tag: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            summary,
            tag,
            access: Access::Authenticated,
            body: None,
            status: 200,
            response: None,
            query: &[],
        }
    }
    fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }
    fn perm(mut self, p: Permission) -> Self {
        self.access = Access::Permission(p);
        self
    }
    fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }
    fn returns(mut self, status: u16, schema: Option<&'static str>) -> Self {
        self.status = status;
        self.response = schema;
        self
    }
    fn query(mut self, q: &'static [(&'static str, &'static str)]) -> Self {
        self.query = q;
        self
    }
}

/// Records every route as it is added.
#[derive(Debug)]
pub struct ApiBuilder {
    router: Router<AppState>,
    ops: Vec<Op>,
}

impl ApiBuilder {
    fn new() -> Self {
        Self {
            router: Router::new(),
            ops: Vec::new(),
        }
    }

    fn add(mut self, op: Op, handler: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(op.path, handler);
        self.ops.push(op);
        self
    }
}

/// Every route of the server with its documentation record.
pub fn routes() -> (Router<AppState>, Vec<Op>) {
    use Method as M;
    use Permission as P;
    let q_assets: &[(&str, &str)] = &[
        ("after", "only ids greater than this (keyset pagination)"),
        ("limit", "page size, 1-1000 (default 100)"),
        ("environment", "filter by environment"),
        ("criticality", "filter by criticality"),
        ("group", "filter by group or tag"),
        ("hostname", "host name contains this"),
    ];
    let q_findings: &[(&str, &str)] = &[
        ("asset", "only this asset"),
        ("level", "critical, high, medium, low or normal"),
        ("advisory", "only this advisory id"),
        ("cve", "only findings naming this CVE"),
        ("include_closed", "also closed (remediated) findings"),
        (
            "include_suppressed",
            "also findings a VEX not-affected statement suppresses, with the reason in \
             `suppressed` (never open work)",
        ),
        ("after", "only ids greater than this"),
        ("limit", "page size, 1-1000 (default 100)"),
    ];
    let q_advisories: &[(&str, &str)] = &[
        ("after", "only ids after this one"),
        ("limit", "page size, 1-1000 (default 100)"),
        (
            "source",
            "osv, csaf, csaf-vex, debian-tracker, dsa-list, alpine-secdb",
        ),
        ("cve", "only advisories naming this CVE"),
    ];
    let q_audit: &[(&str, &str)] = &[
        ("after", "only events after this sequence number"),
        ("limit", "page size, 1-1000 (default 100)"),
        ("action", "action prefix, e.g. `asset.`"),
        ("target_type", "e.g. `asset`, `user`, `token`"),
        ("target_id", "id of the target"),
    ];
    let b = ApiBuilder::new()
        .add(
            Op::new(M::GET, "/healthz", "health", "Liveness: the process is up")
                .public()
                .returns(200, Some("Health")),
            get(health::healthz),
        )
        .add(
            Op::new(
                M::GET,
                "/readyz",
                "health",
                "Readiness: the database answers",
            )
            .public()
            .returns(200, Some("Health")),
            get(health::readyz),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/openapi.json",
                "meta",
                "This OpenAPI document",
            )
            .public()
            .returns(200, Some("OpenApiDocument")),
            get(meta::openapi),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/roles",
                "meta",
                "Roles and the permissions they grant",
            )
            .returns(200, Some("RoleList")),
            get(meta::roles),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/auth/login",
                "auth",
                "Log in; sets the session cookie and returns the anti-CSRF token",
            )
            .public()
            .body("LoginRequest")
            .returns(200, Some("LoginResponse")),
            post(session::login),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/auth/logout",
                "auth",
                "Log out (end this session)",
            )
            .returns(204, None),
            post(session::logout),
        )
        .add(
            Op::new(M::GET, "/api/v1/auth/me", "auth", "The calling user")
                .returns(200, Some("User")),
            get(session::me),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/auth/password",
                "auth",
                "Change your own password",
            )
            .body("ChangePasswordRequest")
            .returns(204, None),
            post(session::change_password),
        )
        .add(
            Op::new(M::GET, "/api/v1/users", "users", "List users")
                .perm(P::UserRead)
                .returns(200, Some("UserList")),
            get(users::list),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/users",
                "users",
                "Create a user (a one-time password is generated when none is given)",
            )
            .perm(P::UserManage)
            .body("CreateUserRequest")
            .returns(201, Some("CreatedUser")),
            post(users::create),
        )
        .add(
            Op::new(M::GET, "/api/v1/users/{id}", "users", "One user")
                .perm(P::UserRead)
                .returns(200, Some("User")),
            get(users::get_one),
        )
        .add(
            Op::new(
                M::PATCH,
                "/api/v1/users/{id}",
                "users",
                "Change a user's name, e-mail, roles or disabled flag",
            )
            .perm(P::UserManage)
            .body("UpdateUserRequest")
            .returns(200, Some("User")),
            patch(users::update),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/users/{id}/password",
                "users",
                "Set a new one-time password for a user",
            )
            .perm(P::UserManage)
            .body("ResetPasswordRequest")
            .returns(200, Some("CreatedUser")),
            post(users::reset_password),
        )
        .add(
            Op::new(M::GET, "/api/v1/tokens", "tokens", "Your API tokens")
                .returns(200, Some("TokenList")),
            get(tokens::list),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/tokens",
                "tokens",
                "Create an API token; the secret is shown once",
            )
            .body("CreateTokenRequest")
            .returns(201, Some("CreatedToken")),
            post(tokens::create),
        )
        .add(
            Op::new(
                M::DELETE,
                "/api/v1/tokens/{id}",
                "tokens",
                "Revoke a token (your own, or any with user_manage)",
            )
            .returns(200, Some("ApiToken")),
            delete(tokens::revoke),
        )
        .add(
            Op::new(M::GET, "/api/v1/assets", "assets", "List assets")
                .perm(P::AssetRead)
                .query(q_assets)
                .returns(200, Some("AssetList")),
            get(assets::list),
        )
        .add(
            Op::new(M::POST, "/api/v1/assets", "assets", "Register an asset")
                .perm(P::AssetWrite)
                .body("AssetInput")
                .returns(201, Some("Asset")),
            post(assets::create),
        )
        .add(
            Op::new(M::GET, "/api/v1/assets/{id}", "assets", "One asset")
                .perm(P::AssetRead)
                .returns(200, Some("Asset")),
            get(assets::get_one),
        )
        .add(
            Op::new(M::PATCH, "/api/v1/assets/{id}", "assets", "Change an asset")
                .perm(P::AssetWrite)
                .body("AssetPatch")
                .returns(200, Some("Asset")),
            patch(assets::update),
        )
        .add(
            Op::new(
                M::DELETE,
                "/api/v1/assets/{id}",
                "assets",
                "Delete an asset and its inventory",
            )
            .perm(P::AssetWrite)
            .returns(204, None),
            delete(assets::remove),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/assets/{id}/packages",
                "assets",
                "The asset's installed packages",
            )
            .perm(P::AssetRead)
            .returns(200, Some("Inventory")),
            get(assets::packages),
        )
        .add(
            Op::new(
                M::PUT,
                "/api/v1/assets/{id}/packages",
                "assets",
                "Replace the asset's package inventory",
            )
            .perm(P::AssetWrite)
            .body("Inventory")
            .returns(200, Some("InventoryChange")),
            put(assets::replace_packages),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/findings",
                "findings",
                "Findings: which asset needs which fix, why, and by when",
            )
            .perm(P::FindingRead)
            .query(q_findings)
            .returns(200, Some("FindingList")),
            get(vulns::findings),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/advisories",
                "advisories",
                "Imported advisories",
            )
            .perm(P::FindingRead)
            .query(q_advisories)
            .returns(200, Some("AdvisoryList")),
            get(vulns::advisories),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/advisories/{id}",
                "advisories",
                "One advisory (id as the source names it, e.g. ALSA-2024:2447)",
            )
            .perm(P::FindingRead)
            .returns(200, Some("StoredAdvisory")),
            get(vulns::advisory),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/advisories/import",
                "advisories",
                "Import one feed file sent as the body; re-matches the assets it touches",
            )
            .perm(P::AdvisoryManage)
            .query(&[("name", "file name, e.g. all.zip or kev.json")])
            .body("FeedFile")
            .returns(200, Some("ImportSummary")),
            post(vulns::import),
        )
        .add(
            Op::new(
                M::POST,
                "/api/v1/scans/import",
                "scans",
                "Import one scanner report (Nessus, OpenVAS) sent as the body: hosts attach to assets (or create them), local checks are checked against inventories",
            )
            .perm(P::AdvisoryManage)
            .query(&[("name", "file name, e.g. weekly.nessus")])
            .body("ScanReportFile")
            .returns(200, Some("ScanImportSummary")),
            post(scans::import),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/scan-findings",
                "scans",
                "Scanner findings per asset, with the verdict of the asset's own inventory",
            )
            .perm(P::FindingRead)
            .query(&[
                ("asset", "only this asset"),
                ("verdict", "confirmed, contradicted or unverified"),
                ("severity", "info, low, medium, high or critical"),
                ("import", "only records of this scan import"),
                ("after", "only ids greater than this"),
                ("limit", "page size, 1-1000 (default 100)"),
            ])
            .returns(200, Some("ScanFindingList")),
            get(scans::findings),
        )
        .add(
            Op::new(M::GET, "/api/v1/audit", "audit", "Audit events in order")
                .perm(P::AuditRead)
                .query(q_audit)
                .returns(200, Some("AuditList")),
            get(audit::list),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/audit/verify",
                "audit",
                "Verify the audit hash chain",
            )
            .perm(P::AuditRead)
            .returns(200, Some("AuditVerification")),
            get(audit::verify),
        )
        .add(
            Op::new(
                M::GET,
                "/api/v1/audit/export",
                "audit",
                "All audit events as JSON lines, for a SIEM",
            )
            .perm(P::AuditRead)
            .query(&[("after", "only events after this sequence number")])
            .returns(200, Some("AuditEventLines")),
            get(audit::export),
        );
    let b = agent_routes(b);
    (b.router, b.ops)
}

/// The agent endpoints (public at the user level: they authenticate by the agent's
/// signature), their administration, and jobs.
fn agent_routes(b: ApiBuilder) -> ApiBuilder {
    use Method as M;
    use Permission as P;
    b.add(
        Op::new(
            M::POST,
            "/api/v1/agent/enroll",
            "agent",
            "Agent enrolment: an enrolment token buys a per-agent identity (401 invalid_token when unknown, expired, revoked or used)",
        )
        .public()
        .body("EnrollRequest")
        .returns(201, Some("EnrollResponse")),
        post(agents::enroll),
    )
    .add(
        Op::new(
            M::POST,
            "/api/v1/agent/checkin",
            "agent",
            "Agent check-in, signed by the agent's key: facts, inventory when changed, job reports; answers with jobs. The body is JSON (`CheckIn`), or framed as the agent sends it (protocol 3, media type application/vnd.patchwarden.checkin-framed): that JSON without the inventory's packages_text, a newline, then the packages' canonical text",
        )
        .public()
        .body("CheckIn")
        .returns(200, Some("CheckInReply")),
        post(agents::checkin),
    )
    .add(
        Op::new(
            M::POST,
            "/api/v1/agents/enrollment-tokens",
            "agents",
            "Create an enrolment token; the secret (pwe_...) is shown once",
        )
        .perm(P::AgentEnroll)
        .body("CreateEnrollmentTokenRequest")
        .returns(201, Some("CreatedEnrollmentToken")),
        post(agents::create_token),
    )
    .add(
        Op::new(
            M::GET,
            "/api/v1/agents/enrollment-tokens",
            "agents",
            "Enrolment tokens, newest first",
        )
        .perm(P::AgentEnroll)
        .returns(200, Some("EnrollmentTokenList")),
        get(agents::list_tokens),
    )
    .add(
        Op::new(
            M::DELETE,
            "/api/v1/agents/enrollment-tokens/{id}",
            "agents",
            "Revoke an enrolment token",
        )
        .perm(P::AgentEnroll)
        .returns(200, Some("EnrollmentToken")),
        delete(agents::revoke_token),
    )
    .add(
        Op::new(M::GET, "/api/v1/agents", "agents", "Enrolled agents")
            .perm(P::AssetRead)
            .returns(200, Some("AgentList")),
        get(agents::list_agents),
    )
    .add(
        Op::new(
            M::DELETE,
            "/api/v1/agents/{id}",
            "agents",
            "Revoke an agent: it is refused (403 agent_revoked) at its next contact",
        )
        .perm(P::AgentEnroll)
        .returns(200, Some("Agent")),
        delete(agents::revoke_agent),
    )
    .add(
        Op::new(
            M::POST,
            "/api/v1/assets/{id}/jobs",
            "jobs",
            "Queue a typed job, signed with the server's job key, for the asset's agent",
        )
        .perm(P::DeploymentRun)
        .body("QueueJobRequest")
        .returns(201, Some("AgentJob")),
        post(jobs::queue),
    )
    .add(
        Op::new(
            M::GET,
            "/api/v1/jobs/{id}",
            "jobs",
            "A job with its agent's reports (each step's status, timing and log excerpt); every role with deployment_run also has finding_read",
        )
        .perm(P::FindingRead)
        .returns(200, Some("AgentJob")),
        get(jobs::get_one),
    )
}
