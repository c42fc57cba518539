//! The OpenAPI 3.1 document, generated from the route record of [`crate::api::routes`]
//! plus the component schemas below. A test checks that every route is in it, that
//! every schema it names exists, and that every documented path answers.

use crate::api::{routes, Access, Op};
use patchwarden_domain::asset::{AssetKind, Criticality, Environment, OsFamily};
use patchwarden_domain::level::Level;
use patchwarden_domain::package::PackageFormat;
use patchwarden_domain::role::{Permission, Role};
use serde_json::{json, Map, Value};

fn enum_of<T: Copy + Into<&'static str>>(all: &[T]) -> Value {
    let names: Vec<&'static str> = all.iter().map(|v| (*v).into()).collect();
    json!({ "type": "string", "enum": names })
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn ts() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn nullable(v: Value) -> Value {
    json!({ "oneOf": [v, { "type": "null" }] })
}

fn obj(required: &[&str], props: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": props, "additionalProperties": false })
}

/// Component schemas by name.
pub fn schemas() -> Map<String, Value> {
    let s = json!({ "type": "string" });
    let b = json!({ "type": "boolean" });
    let i = json!({ "type": "integer", "format": "int64" });
    let role = enum_of(Role::ALL);
    let perm = enum_of(Permission::ALL);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put(
        "Error",
        obj(
            &["error"],
            json!({ "error": obj(&["code", "message"], json!({ "code": s, "message": s })) }),
        ),
    );
    put(
        "Health",
        obj(&["status"], json!({ "status": s, "database": s })),
    );
    put("OpenApiDocument", json!({ "type": "object" }));
    put("Role", role.clone());
    put("Permission", perm.clone());
    put(
        "RoleList",
        obj(
            &["roles"],
            json!({ "roles": { "type": "array", "items": obj(&["role", "permissions"], json!({ "role": r("Role"), "permissions": { "type": "array", "items": r("Permission") } })) } }),
        ),
    );
    put(
        "LoginRequest",
        obj(
            &["username", "password"],
            json!({ "username": s, "password": s }),
        ),
    );
    put(
        "LoginResponse",
        obj(
            &["user", "csrf_token", "expires_at", "must_change_password"],
            json!({ "user": r("User"), "csrf_token": { "type": "string", "description": "send as x-csrf-token on every cookie-authenticated change" }, "expires_at": ts(), "must_change_password": b }),
        ),
    );
    put(
        "ChangePasswordRequest",
        obj(
            &["current_password", "new_password"],
            json!({ "current_password": s, "new_password": { "type": "string", "minLength": 12 } }),
        ),
    );
    put(
        "User",
        obj(
            &[
                "id",
                "username",
                "display_name",
                "roles",
                "disabled",
                "must_change_password",
                "created_at",
                "updated_at",
            ],
            json!({ "id": i, "username": s, "display_name": s, "email": nullable(s.clone()), "roles": { "type": "array", "items": r("Role") }, "disabled": b, "must_change_password": b, "created_at": ts(), "updated_at": ts(), "last_login_at": nullable(ts()) }),
        ),
    );
    put(
        "UserList",
        obj(
            &["users"],
            json!({ "users": { "type": "array", "items": r("User") } }),
        ),
    );
    put(
        "CreateUserRequest",
        obj(
            &["username"],
            json!({ "username": s, "display_name": s, "email": s, "password": { "type": "string", "minLength": 12, "description": "omit to generate a one-time password" }, "roles": { "type": "array", "items": r("Role") } }),
        ),
    );
    put(
        "CreatedUser",
        obj(
            &["user"],
            json!({ "user": r("User"), "one_time_password": nullable(s.clone()) }),
        ),
    );
    put(
        "UpdateUserRequest",
        obj(
            &[],
            json!({ "display_name": s, "email": s, "roles": { "type": "array", "items": r("Role") }, "disabled": b }),
        ),
    );
    put(
        "ResetPasswordRequest",
        obj(
            &[],
            json!({ "password": { "type": "string", "minLength": 12 } }),
        ),
    );
    put(
        "ApiToken",
        obj(
            &["id", "user_id", "name", "prefix", "created_at"],
            json!({ "id": i, "user_id": i, "name": s, "prefix": s, "created_at": ts(), "expires_at": nullable(ts()), "last_used_at": nullable(ts()), "revoked_at": nullable(ts()) }),
        ),
    );
    put(
        "TokenList",
        obj(
            &["tokens"],
            json!({ "tokens": { "type": "array", "items": r("ApiToken") } }),
        ),
    );
    put(
        "CreateTokenRequest",
        obj(
            &["name"],
            json!({ "name": s, "expires_in_days": { "type": "integer", "minimum": 1, "maximum": 3650 } }),
        ),
    );
    put(
        "CreatedToken",
        obj(
            &["token", "secret"],
            json!({ "token": r("ApiToken"), "secret": { "type": "string", "description": "shown once; send as Authorization: Bearer <secret>" } }),
        ),
    );
    put(
        "OsInfo",
        obj(
            &["family", "distribution", "release", "arch"],
            json!({ "family": enum_of(OsFamily::ALL), "distribution": s, "release": s, "arch": s }),
        ),
    );
    put(
        "Asset",
        obj(
            &[
                "id",
                "hostname",
                "kind",
                "os",
                "environment",
                "criticality",
                "groups",
                "protected_data",
                "package_count",
                "created_at",
                "updated_at",
            ],
            json!({ "id": i, "hostname": s, "kind": enum_of(AssetKind::ALL), "os": r("OsInfo"), "environment": enum_of(Environment::ALL), "criticality": enum_of(Criticality::ALL), "owner": nullable(s.clone()), "groups": { "type": "array", "items": s }, "protected_data": b, "package_format": nullable(enum_of(PackageFormat::ALL)), "package_count": i, "inventory_hash": nullable(s.clone()), "last_seen_at": nullable(ts()), "created_at": ts(), "updated_at": ts() }),
        ),
    );
    put(
        "AssetList",
        obj(
            &["assets"],
            json!({ "assets": { "type": "array", "items": r("Asset") }, "next_after": nullable(i.clone()) }),
        ),
    );
    put(
        "AssetInput",
        obj(
            &["hostname", "environment"],
            json!({ "hostname": s, "kind": enum_of(AssetKind::ALL), "os_family": enum_of(OsFamily::ALL), "distribution": s, "release": s, "arch": s, "environment": enum_of(Environment::ALL), "criticality": enum_of(Criticality::ALL), "owner": s, "groups": { "type": "array", "items": s }, "protected_data": b }),
        ),
    );
    put(
        "AssetPatch",
        obj(
            &[],
            json!({ "hostname": s, "kind": enum_of(AssetKind::ALL), "os_family": enum_of(OsFamily::ALL), "distribution": s, "release": s, "arch": s, "environment": enum_of(Environment::ALL), "criticality": enum_of(Criticality::ALL), "owner": s, "groups": { "type": "array", "items": s }, "protected_data": b }),
        ),
    );
    put(
        "Package",
        obj(
            &["name", "version"],
            json!({ "name": s, "version": s, "arch": s, "source_name": s, "source_version": s }),
        ),
    );
    put(
        "Inventory",
        obj(
            &["format", "packages"],
            json!({ "format": enum_of(PackageFormat::ALL), "inventory_hash": nullable(s.clone()), "packages": { "type": "array", "items": r("Package"), "maxItems": crate::api::MAX_PACKAGES } }),
        ),
    );
    put(
        "InventoryChange",
        obj(
            &["added", "removed", "changed", "unchanged", "hash"],
            json!({ "added": i, "removed": i, "changed": i, "unchanged": i, "hash": s, "findings": nullable(r("FindingsChange")) }),
        ),
    );
    put(
        "AuditEvent",
        obj(
            &[
                "seq",
                "at",
                "actor",
                "action",
                "target_type",
                "origin",
                "prev_hash",
                "hash",
            ],
            json!({ "seq": i, "at": ts(), "actor": obj(&["kind", "name"], json!({ "kind": { "type": "string", "enum": ["user", "token", "agent", "system"] }, "id": nullable(i.clone()), "name": s })), "action": s, "target_type": s, "target_id": nullable(s.clone()), "before": nullable(json!({ "type": "string", "description": "JSON text" })), "after": nullable(json!({ "type": "string", "description": "JSON text" })), "origin": obj(&[], json!({ "source_ip": nullable(s.clone()), "request_id": nullable(s.clone()) })), "prev_hash": s, "hash": s }),
        ),
    );
    put(
        "AuditList",
        obj(
            &["events"],
            json!({ "events": { "type": "array", "items": r("AuditEvent") }, "next_after": nullable(i.clone()) }),
        ),
    );
    put(
        "AuditVerification",
        obj(
            &["ok", "verified", "message"],
            json!({ "ok": b, "verified": i, "head_seq": nullable(i.clone()), "head_hash": nullable(s.clone()), "broken": nullable(json!({ "type": "object" })), "message": s }),
        ),
    );
    put(
        "Finding",
        obj(
            &[
                "id",
                "asset_id",
                "package",
                "arch",
                "installed",
                "status",
                "advisory",
                "source",
                "cves",
                "distro",
                "evidence",
                "level",
                "first_seen_at",
                "deadline_at",
            ],
            json!({ "id": i, "asset_id": i, "package": s, "arch": s, "installed": s, "fixed": nullable(s.clone()), "status": { "type": "string", "enum": ["vulnerable", "no_fix_yet", "will_not_fix"] }, "advisory": s, "source": s, "cves": { "type": "array", "items": s }, "distro": s, "evidence": { "type": "string", "description": "why, in one line: installed < fixed per advisory, release" }, "suppressed": { "oneOf": [s, { "type": "null" }], "description": "why the finding does not apply (a VEX not-affected statement, with its justification); a suppressed finding is not open work and its deadline does not run" }, "level": enum_of(Level::ALL), "first_seen_at": { "type": "string", "format": "date-time", "description": "registration, or the end of the last suppression: the deadline clock starts here" }, "deadline_at": ts(), "closed_at": nullable(ts()) }),
        ),
    );
    put(
        "FindingList",
        obj(
            &["findings"],
            json!({ "findings": { "type": "array", "items": r("Finding") }, "next_after": nullable(i.clone()) }),
        ),
    );
    put(
        "Advisory",
        json!({ "type": "object", "description": "normalised advisory: id, source, aliases, published, modified, title, severity, cvss, affected (per release and package: fixed ranges or state), references" }),
    );
    put(
        "StoredAdvisory",
        obj(
            &["advisory", "content_hash", "imported_at", "updated_at"],
            json!({ "advisory": r("Advisory"), "content_hash": s, "imported_at": ts(), "updated_at": ts() }),
        ),
    );
    put(
        "AdvisoryList",
        obj(
            &["advisories"],
            json!({ "advisories": { "type": "array", "items": r("StoredAdvisory") }, "next_after": nullable(s.clone()) }),
        ),
    );
    put(
        "FeedFile",
        json!({ "type": "string", "format": "binary", "description": "one feed file: OSV JSON (or a zip of them with ?name=x.zip), CSAF/VEX, Debian tracker JSON or DSA/DLA list, Alpine secdb, CISA KEV JSON/CSV, EPSS CSV, CVE JSON 5, NVD API 2.0" }),
    );
    put(
        "FindingsChange",
        obj(
            &["opened", "kept", "closed", "suppressed", "unsuppressed"],
            json!({ "opened": i, "kept": i, "closed": i, "suppressed": { "type": "integer", "format": "int64", "description": "opened suppressed, or newly suppressed by a VEX not-affected statement" }, "unsuppressed": { "type": "integer", "format": "int64", "description": "no longer suppressed: open work again, deadline clock restarted" } }),
        ),
    );
    put(
        "ImportSummary",
        obj(
            &[
                "files_read",
                "advisories",
                "enrichment_changed",
                "rejected",
                "skipped",
                "assets_rematched",
                "findings",
                "findings_relevelled",
            ],
            json!({ "files_read": i, "advisories": obj(&["inserted", "updated", "unchanged", "changed"], json!({ "inserted": i, "updated": i, "unchanged": i, "changed": { "type": "array", "items": s } })), "enrichment_changed": i, "rejected": { "type": "array", "items": obj(&["file", "reason"], json!({ "file": s, "record": nullable(s.clone()), "reason": s })) }, "skipped": i, "assets_rematched": i, "findings": r("FindingsChange"), "findings_relevelled": i }),
        ),
    );
    let verdict = json!({ "type": "string", "enum": ["confirmed", "contradicted", "unverified"] });
    let severity =
        json!({ "type": "string", "enum": ["info", "low", "medium", "high", "critical"] });
    let verdicts = obj(
        &["confirmed", "contradicted", "unverified"],
        json!({ "confirmed": i, "contradicted": i, "unverified": i }),
    );
    put(
        "ScanReportFile",
        json!({ "type": "string", "format": "binary", "description": "one scanner report: Nessus .nessus (v2), OpenVAS/Greenbone XML report, or a Nessus/OpenVAS CSV export; DTDs are refused" }),
    );
    put(
        "ScanImportSummary",
        obj(
            &[
                "import_id",
                "scanner",
                "format",
                "file_name",
                "report_name",
                "hosts_matched",
                "hosts_created",
                "hosts",
                "findings",
                "verdicts",
                "superseded",
                "inventories_stored",
                "rejected",
            ],
            json!({ "import_id": i, "scanner": { "type": "string", "enum": ["nessus", "openvas"] }, "format": { "type": "string", "enum": ["xml", "csv"] }, "file_name": s, "report_name": s, "hosts_matched": i, "hosts_created": i,
                "hosts": { "type": "array", "items": obj(&["asset_id", "hostname", "matched_by", "findings", "verdicts", "inventory_stored"], json!({ "asset_id": i, "hostname": s, "matched_by": { "type": "string", "enum": ["hostname", "fqdn", "ip", "created"] }, "ip": nullable(s.clone()), "findings": i, "verdicts": verdicts.clone(), "inventory_stored": b })) },
                "findings": { "type": "integer", "description": "records stored: one per package of a local check, one per other finding" }, "verdicts": verdicts, "superseded": i, "inventories_stored": i,
                "rejected": { "type": "array", "items": obj(&["record", "reason"], json!({ "record": s, "reason": s })) } }),
        ),
    );
    put(
        "ScanFinding",
        obj(
            &[
                "id",
                "asset_id",
                "scan_import_id",
                "scanner",
                "plugin_id",
                "name",
                "severity",
                "cves",
                "verdict",
                "evidence",
                "imported_at",
            ],
            json!({ "id": i, "asset_id": i, "scan_import_id": i, "scanner": s, "plugin_id": s, "name": s, "severity": severity, "cvss": nullable(json!({ "type": "number" })), "cves": { "type": "array", "items": s }, "port": nullable(i.clone()), "protocol": nullable(s.clone()), "package": nullable(s.clone()), "installed": nullable(s.clone()), "fixed": nullable(s.clone()), "verdict": verdict, "evidence": { "type": "string", "description": "scanner says P I < F; inventory has V → verdict" }, "imported_at": ts() }),
        ),
    );
    put(
        "ScanFindingList",
        obj(
            &["findings"],
            json!({ "findings": { "type": "array", "items": r("ScanFinding") }, "next_after": nullable(i.clone()) }),
        ),
    );
    put(
        "AuditEventLines",
        json!({ "type": "string", "description": "one AuditEvent JSON object per line" }),
    );
    m.extend(crate::api::agent_schemas());
    m
}

fn operation(op: &Op) -> Value {
    let mut o = Map::new();
    o.insert("summary".into(), json!(op.summary));
    o.insert("tags".into(), json!([op.tag]));
    o.insert(
        "operationId".into(),
        json!(format!("{} {}", op.method, op.path)),
    );
    let mut params: Vec<Value> = Vec::new();
    if op.path.contains("{id}") {
        let schema =
            if op.path.starts_with("/api/v1/advisories/") || op.path.starts_with("/api/v1/jobs/") {
                json!({ "type": "string" })
            } else {
                json!({ "type": "integer", "format": "int64", "minimum": 1 })
            };
        params.push(json!({ "name": "id", "in": "path", "required": true, "schema": schema }));
    }
    for (name, desc) in op.query {
        params.push(json!({ "name": name, "in": "query", "required": false, "description": desc, "schema": { "type": "string" } }));
    }
    if !params.is_empty() {
        o.insert("parameters".into(), Value::Array(params));
    }
    if let Some(body) = op.body {
        let media = if matches!(body, "FeedFile" | "ScanReportFile") {
            "application/octet-stream"
        } else {
            "application/json"
        };
        o.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { media: { "schema": r(body) } } }),
        );
    }
    let media = if op.path.ends_with("/export") {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let ok = match op.response {
        Some(s) => json!({ "description": "success", "content": { media: { "schema": r(s) } } }),
        None => json!({ "description": "success, no body" }),
    };
    let err = json!({ "description": "error", "content": { "application/json": { "schema": r("Error") } } });
    let mut responses = Map::new();
    responses.insert(op.status.to_string(), ok);
    responses.insert("default".into(), err);
    o.insert("responses".into(), Value::Object(responses));
    match op.access {
        Access::Public => {
            o.insert("security".into(), json!([]));
        }
        Access::Authenticated => {
            o.insert("x-access".into(), json!("authenticated"));
        }
        Access::Permission(p) => {
            o.insert("x-access".into(), json!("permission"));
            o.insert("x-permission".into(), json!(p));
        }
    }
    Value::Object(o)
}

/// The whole document.
pub fn document() -> Value {
    let (_, ops) = routes();
    let mut paths = Map::new();
    for op in &ops {
        let entry = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(op.method.as_str().to_ascii_lowercase(), operation(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Patchwarden API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Security patch management: inventory, advisories, findings, deployments, audit. Errors are JSON `{\"error\":{\"code\",\"message\"}}` with a stable code; every response carries `x-request-id`.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "session": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "API token from POST /api/v1/tokens" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE, "description": "from POST /api/v1/auth/login; changes also need the x-csrf-token header" },
            },
        },
    })
}
