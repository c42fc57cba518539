use crate::auth::Authenticated;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use patchwarden_domain::role::Role;
use serde_json::{json, Value};

pub async fn openapi(State(_): State<AppState>) -> Json<Value> {
    Json(crate::openapi::document())
}

pub async fn roles(Authenticated(_): Authenticated) -> Json<Value> {
    let roles: Vec<Value> = Role::ALL
        .iter()
        .map(|r| json!({ "role": r, "permissions": r.grants() }))
        .collect();
    Json(json!({ "roles": roles }))
}
