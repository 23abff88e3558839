//! Request and response schemas for `/openapi.json`, generated from the Rust types the
//! handlers (de)serialize (utoipa's `ToSchema` derive), so the document cannot drift from
//! the code. Types owned by other crates (the upgrade record, catalog and audit entries,
//! the verification report) are described as objects named after their Rust type.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// The named schemas a document refers to (`#/components/schemas/NAME`).
#[derive(Default)]
pub struct Components(pub BTreeMap<String, Value>);

impl Components {
    fn insert(&mut self, name: impl Into<String>, schema: RefOr<Schema>) {
        let value = serde_json::to_value(schema).unwrap_or_else(|_| json!({"type": "object"}));
        self.0.insert(name.into(), value);
    }
}

/// A request or response body: its media types and a function registering its schema.
#[derive(Clone, Copy)]
pub struct Body {
    pub media: &'static [&'static str],
    pub schema: fn(&mut Components) -> Value,
}

const JSON: &[&str] = &["application/json"];

fn reference<T: ToSchema>(components: &mut Components) -> Value {
    let mut deps = Vec::new();
    T::schemas(&mut deps);
    for (name, schema) in deps {
        components.insert(name, schema);
    }
    components.insert(T::name(), T::schema());
    json!({"$ref": format!("#/components/schemas/{}", T::name())})
}

fn list_of<T: ToSchema>(components: &mut Components) -> Value {
    json!({"type": "array", "items": reference::<T>(components)})
}

/// A JSON body of type `T`.
pub fn json<T: ToSchema>() -> Option<Body> {
    Some(Body {
        media: JSON,
        schema: reference::<T>,
    })
}

/// A JSON array of `T`.
pub fn json_list<T: ToSchema>() -> Option<Body> {
    Some(Body {
        media: JSON,
        schema: list_of::<T>,
    })
}

fn binary(_: &mut Components) -> Value {
    json!({"type": "string", "format": "binary"})
}

/// Raw bytes in one of `media`.
pub fn bytes(media: &'static [&'static str]) -> Option<Body> {
    Some(Body {
        media,
        schema: binary,
    })
}

/// A query parameter.
#[derive(Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    /// A JSON Schema type: `string`, `boolean`, `integer`.
    pub kind: &'static str,
    pub description: &'static str,
}

/// An object schema for a type another crate owns, named after it.
macro_rules! described {
    ($(#[$doc:meta])* $name:ident, $text:literal, [$($field:literal),*]) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                #[allow(unused_mut)]
                let mut object = ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some($text));
                $(
                    object = object.property($field, ObjectBuilder::new()).required($field);
                )*
                RefOr::T(Schema::Object(object.build()))
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

described!(
    /// `changeover_core::upgrade::UpgradeRecord`.
    UpgradeRecord,
    "an upgrade record as stored (serde of changeover_core::upgrade::UpgradeRecord): id, versions, mode, status, steps with their items, milestones, announcement and log",
    ["id", "platform", "from_version", "to_version", "mode", "status", "steps", "milestones", "log"]
);
described!(
    /// `changeover_store::CatalogEntry`.
    CatalogEntry,
    "a version in the catalog (changeover_store::CatalogEntry): platform, version, file name, format, size, digests, upload times",
    ["platform", "version", "format", "md5", "sha256"]
);
described!(
    /// `changeover_store::audit::AuditEntry`.
    AuditEntry,
    "one audit log entry: when, who, what, target, from where, outcome and detail",
    ["at", "actor", "action", "target", "peer", "outcome"]
);
described!(
    /// `changeover_server::gateway::Maintenance`.
    Maintenance,
    "whether maintenance mode is on, the upgrade that turned it on, and its announcement (estimated completion, contact)",
    ["on"]
);
described!(
    /// `changeover_core::upgrade::verify::Report`.
    VerificationReport,
    "the verification report (changeover_core::upgrade::verify::Report): recent count against the 7-day average, status distribution, per-day counts, failed-today-succeeded-yesterday instances and the verdict",
    []
);

/// An error answer: `{"code","message"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Error {
    /// Stable: `unauthenticated`, `bad_credentials`, `forbidden`, `not_found`,
    /// `bad_request`, `conflict`, `internal`, `invalid_bundle`, `maintenance`.
    code: String,
    message: String,
}
