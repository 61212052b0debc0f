//! The one Tera set-up shared by the three renderers (node files from playbooks, cluster
//! manifests, addon manifests): the engine's settings, the error text, and the quoting filters.
//!
//! Each renderer still owns its engine instance, because the template sets differ in where they
//! come from and how long they live (operator-overridable per `--playbooks DIR`, embedded and
//! built once, one addon at a time); and the filter `q` means shell quoting in playbook templates
//! but YAML quoting in cluster templates. docs/architecture.md ("Templates") says why that stays.

use std::collections::HashMap;

use tera::Value;

/// A Tera engine with no templates yet. Nothing rendered is HTML; escaping would corrupt configs.
pub fn engine() -> tera::Tera {
    let mut t = tera::Tera::default();
    t.autoescape_on(vec![]);
    t
}

/// Tera's `Display` shows only the outermost error; the cause chain holds the useful part
/// (e.g. "Variable `x` not found in context").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// `q` in playbook templates and strings: one shell word ([`crate::shell::q`]). Operators'
/// templates under `--playbooks DIR` use it by that name.
pub fn shell_quote(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(crate::shell::q(&scalar(value)?)))
}

/// `q` in cluster templates: a YAML double-quoted scalar (JSON string syntax is valid YAML), so
/// no inventory value can change the document's structure.
pub fn yaml_quote(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(
        serde_json::to_string(&scalar(value)?).map_err(tera::Error::msg)?,
    ))
}

fn scalar(value: &Value) -> tera::Result<String> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(tera::Error::msg(format!("q: cannot quote {other}"))),
    })
}
