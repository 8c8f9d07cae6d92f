//! Routes that describe themselves: every API route is declared once as a
//! [`Route`] (method, Pulp-style path template, operation id, parameters,
//! body type, response codes); the router mounts the handler and the
//! OpenAPI document (`/pulp/api/v3/docs/api.json`) lists the operation.
//!
//! pulp-cli (pulp-glue) loads the document with strict models and only
//! sends parameters it declares, so every query parameter a command sends is
//! declared here; see `reference/pulp-api-contract.md` for the rules.

use std::collections::BTreeMap;

use axum::routing::MethodRouter;
use serde_json::{Value, json};

use super::AppState;
use super::schema::ApiSchema;

/// Versions we claim to implement; also reported by `/status/`. pulp-cli
/// refreshes its cached copy of the document when these change, so bump
/// `DOC_REVISION` whenever the document changes.
pub const COMPONENTS: [(&str, &str); 3] =
    [("core", "3.123.1"), ("file", "3.123.1"), ("rpm", "3.39.4")];

/// Changes with every change of the document (see [`COMPONENTS`]).
pub const DOC_REVISION: &str = "4";

/// A query parameter's type.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Text.
    Str,
    /// A whole number.
    Int,
    /// `true` / `false`.
    Bool,
    /// A repeated parameter (`fields=a&fields=b`).
    List,
    /// A comma-joined list (`state__in=a,b`, `explode: false`).
    CommaList,
}

/// One documented API operation and its handler.
pub struct Route {
    pub(crate) method: &'static str,
    pub(crate) doc_path: String,
    pub(crate) axum_path: String,
    pub(crate) operation_id: String,
    pub(crate) path_param: Option<String>,
    pub(crate) query: Vec<(String, Kind)>,
    pub(crate) body: Option<Value>,
    pub(crate) body_media_type: &'static str,
    pub(crate) responses: Vec<u16>,
    pub(crate) public: bool,
    pub(crate) handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("doc_path", &self.doc_path)
            .field("operation_id", &self.operation_id)
            .finish_non_exhaustive()
    }
}

/// Query parameters every list operation declares (pulp-cli always sends them).
pub const LIST_PARAMS: [(&str, Kind); 4] = [
    ("limit", Kind::Int),
    ("offset", Kind::Int),
    ("fields", Kind::List),
    ("exclude_fields", Kind::List),
];

impl Route {
    /// A route for `method` (`get`, `post`, `patch`, `delete`, `put`).
    pub fn new(
        method: &'static str,
        doc_path: impl Into<String>,
        axum_path: impl Into<String>,
        operation_id: impl Into<String>,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Route {
            method,
            doc_path: doc_path.into(),
            axum_path: axum_path.into(),
            operation_id: operation_id.into(),
            path_param: None,
            query: Vec::new(),
            body: None,
            body_media_type: "application/json",
            responses: vec![200],
            public: false,
            handler,
        }
    }

    /// Names the href path parameter (`{task_href}`).
    pub fn path_param(mut self, name: impl Into<String>) -> Self {
        self.path_param = Some(name.into());
        self
    }

    /// Declares query parameters.
    pub fn query(mut self, params: &[(&str, Kind)]) -> Self {
        self.query
            .extend(params.iter().map(|(n, k)| ((*n).to_owned(), *k)));
        self
    }

    /// Declares the standard list parameters plus `extra`.
    pub fn list(self, extra: &[(&str, Kind)]) -> Self {
        self.query(&LIST_PARAMS).query(extra)
    }

    /// Declares a JSON request body of type `T`.
    pub fn body<T: ApiSchema>(mut self) -> Self {
        self.body = Some(T::schema());
        self
    }

    /// Declares a `multipart/form-data` request body (file uploads) with
    /// this object schema; clients send a file field as `format: binary`.
    pub fn multipart(mut self, schema: Value) -> Self {
        self.body = Some(schema);
        self.body_media_type = "multipart/form-data";
        self
    }

    /// Sets the documented response codes.
    pub fn responses(mut self, codes: &[u16]) -> Self {
        self.responses = codes.to_vec();
        self
    }

    /// Marks the route as not needing authentication.
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// The HTTP method, lower case (`get`, `post`, ...).
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The path the router mounts, with `{id}`-style captures.
    pub fn axum_path(&self) -> &str {
        &self.axum_path
    }

    /// The operation id in the document.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// Whether the route answers without authentication.
    pub fn is_public(&self) -> bool {
        self.public
    }

    fn operation(&self) -> Value {
        let mut params: Vec<Value> = Vec::new();
        if let Some(p) = &self.path_param {
            params.push(
                json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
        for (name, kind) in &self.query {
            let mut p = json!({"name": name, "in": "query"});
            match kind {
                Kind::Str => p["schema"] = json!({"type": "string"}),
                Kind::Int => p["schema"] = json!({"type": "integer"}),
                Kind::Bool => p["schema"] = json!({"type": "boolean"}),
                Kind::List => {
                    p["schema"] = json!({"type": "array", "items": {"type": "string"}});
                }
                Kind::CommaList => {
                    p["schema"] = json!({"type": "array", "items": {"type": "string"}});
                    p["style"] = json!("form");
                    p["explode"] = json!(false);
                }
            }
            params.push(p);
        }
        let json_content = |schema: Value| json!({"application/json": {"schema": schema}});
        let responses: serde_json::Map<String, Value> = self
            .responses
            .iter()
            .map(|code| {
                let desc = if *code == 204 { "No content" } else { "" };
                let mut r = json!({"description": desc});
                if *code != 204 {
                    r["content"] = json_content(json!({}));
                }
                (code.to_string(), r)
            })
            .collect();
        let mut op = json!({
            "operationId": self.operation_id,
            "parameters": params,
            "responses": responses,
        });
        if let Some(body) = &self.body {
            op["requestBody"] = json!({
                "required": true,
                "content": {(self.body_media_type): {"schema": body.clone()}},
            });
        }
        if !self.public {
            op["security"] = json!([{"basicAuth": []}]);
        }
        op
    }
}

/// The OpenAPI document of `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for r in routes {
        paths
            .entry(r.doc_path.as_str())
            .or_default()
            .insert(r.method.to_owned(), r.operation());
    }
    let versions: serde_json::Map<String, Value> = COMPONENTS
        .iter()
        .map(|(c, v)| ((*c).to_owned(), json!(v)))
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "pulp-app",
            "version": format!("v3 (pulp-app {}, document {DOC_REVISION})", env!("CARGO_PKG_VERSION")),
            "x-pulp-app-versions": versions,
            "x-pulp-domain-enabled": false,
        },
        "paths": paths,
        "components": {
            "schemas": {},
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
    })
}
