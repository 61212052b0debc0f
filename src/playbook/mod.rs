//! Declarative node-level steps from playbooks/*.toml (embedded, overridable). STUB.
