//! Typed, position-keeping reads from the parsed TOML tree.
//!
//! Why not `#[derive(Deserialize)] #[serde(deny_unknown_fields)]`: serde stops at the first error,
//! so a file with three typos would take three runs of `check` to fix. Walking toml's spanned
//! document tree (`toml::de::DeTable`) lets every table report all of its unknown keys and wrongly
//! typed values in one pass, each at the exact key or value.

use std::ops::Range;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::checks;

pub(crate) type Span = Range<usize>;

/// A problem at a byte span of the inventory text.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

/// Collects errors and warnings while the tree is read and resolved.
pub(crate) struct Diags<'t> {
    pub lines: LineIndex<'t>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl<'t> Diags<'t> {
    pub fn new(text: &'t str) -> Self {
        Diags {
            lines: LineIndex::new(text),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }
    /// `line N` of a span, for hints that point at a second place ("first at line 12").
    pub fn line_of(&self, span: &Span) -> String {
        format!("line {}", self.lines.position(span.start).0)
    }
    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.errors.push(Issue {
            span,
            message: message.into(),
            hint: Some(hint.into()),
        });
    }
    pub fn warn(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.warnings.push(Issue {
            span,
            message: message.into(),
            hint: Some(hint.into()),
        });
    }
}

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// `key = "value"` pairs of a string table, each side with its span.
pub(crate) type StringPairs = Vec<(Spanned<String>, Spanned<String>)>;

/// Reads the keys of one table. Every getter registers its key as valid, so `finish` can name
/// all unknown keys and suggest the closest valid one.
pub(crate) struct TableReader<'a, 'i> {
    table: &'a DeTable<'i>,
    /// The table's header (`[cluster]`, `[[host]]`, `{ ... }`); missing keys are reported here.
    pub span: Span,
    /// Human name of the table in messages, e.g. `[cluster.endpoint]`.
    pub path: String,
    known: Vec<&'static str>,
    /// Extra hints for specific unknown keys (a likely misplaced key, a renamed one).
    special: Option<fn(&str) -> Option<String>>,
}

fn type_hint(key: &str, expected: &str) -> String {
    match expected {
        "a string" => format!("quote the value: {key} = \"...\""),
        "an integer" => format!("write a whole number without quotes: {key} = 10"),
        "a boolean" => format!("write {key} = true or {key} = false, without quotes"),
        "an array of strings" => format!("write a list: {key} = [\"...\", \"...\"]"),
        "a table" => format!("write [{key}] as a section, or {key} = {{ ... }}"),
        "a table of strings" => format!("write {key} = {{ name = \"value\" }}"),
        "an array of tables" => format!("write one [[{key}]] section per entry"),
        _ => format!("{key} must be {expected}"),
    }
}

impl<'a, 'i> TableReader<'a, 'i> {
    pub fn new(table: &'a DeTable<'i>, span: Span, path: impl Into<String>) -> Self {
        TableReader {
            table,
            span,
            path: path.into(),
            known: Vec::new(),
            special: None,
        }
    }

    /// Reads `value` as a table, or reports that it is not one.
    pub fn of(
        d: &mut Diags,
        key: &str,
        value: &'a Value<'i>,
        path: impl Into<String>,
    ) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(t) => Some(Self::new(t, value.span(), path)),
            other => {
                d.error(
                    value.span(),
                    format!("`{key}` must be a table, found {}", other.type_str()),
                    type_hint(key, "a table"),
                );
                None
            }
        }
    }

    pub fn with_special(mut self, special: fn(&str) -> Option<String>) -> Self {
        self.special = Some(special);
        self
    }

    /// The raw value of `key` (registering it as valid), with its key's span.
    pub fn raw(&mut self, key: &'static str) -> Option<(Span, &'a Value<'i>)> {
        self.known.push(key);
        self.table.get_key_value(key).map(|(k, v)| (k.span(), v))
    }

    /// Whether some other key of this table looks like a misspelling of `key` (then "missing
    /// `key`" would only repeat the unknown-key error, which already suggests `key`).
    pub fn has_misspelling_of(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| {
            let k = k.get_ref().as_ref();
            k != key && checks::closest(k, &[key]).is_some()
        })
    }

    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.table.get_key_value(key).map(|(k, _)| k.span())
    }

    fn wrong_type(&self, d: &mut Diags, key: &str, v: &Value<'i>, expected: &str) {
        d.error(
            v.span(),
            format!(
                "`{key}` in {} must be {expected}, found {}",
                self.path,
                v.get_ref().type_str()
            ),
            type_hint(key, expected),
        );
    }

    pub fn string(&mut self, d: &mut Diags, key: &'static str) -> Option<Spanned<String>> {
        let (_, v) = self.raw(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                self.wrong_type(d, key, v, "a string");
                None
            }
        }
    }

    /// A string that must not be empty.
    pub fn nonempty(&mut self, d: &mut Diags, key: &'static str) -> Option<Spanned<String>> {
        let s = self.string(d, key)?;
        if s.get_ref().trim().is_empty() {
            d.error(
                s.span(),
                format!("`{key}` in {} is empty", self.path),
                format!("give {key} a value or remove the line"),
            );
            return None;
        }
        Some(s)
    }

    pub fn boolean(&mut self, d: &mut Diags, key: &'static str) -> Option<Spanned<bool>> {
        let (_, v) = self.raw(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(v.span(), *b)),
            _ => {
                self.wrong_type(d, key, v, "a boolean");
                None
            }
        }
    }

    /// An integer within `min..=max`; `range_hint` says what is allowed and why.
    pub fn integer(
        &mut self,
        d: &mut Diags,
        key: &'static str,
        min: i64,
        max: i64,
        range_hint: &str,
    ) -> Option<Spanned<i64>> {
        let (_, v) = self.raw(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(d, key, v, "an integer");
            return None;
        };
        let n = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match n {
            Some(n) if (min..=max).contains(&n) => Some(Spanned::new(v.span(), n)),
            _ => {
                d.error(
                    v.span(),
                    format!("`{key}` = {i} is out of range in {}", self.path),
                    range_hint.to_string(),
                );
                None
            }
        }
    }

    pub fn port(&mut self, d: &mut Diags, key: &'static str) -> Option<Spanned<u16>> {
        let n = self.integer(d, key, 1, 65535, "a TCP port is 1-65535")?;
        Some(Spanned::new(n.span(), n.into_inner() as u16))
    }

    pub fn string_list(
        &mut self,
        d: &mut Diags,
        key: &'static str,
    ) -> Option<Spanned<Vec<Spanned<String>>>> {
        let (_, v) = self.raw(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(d, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                other => d.error(
                    item.span(),
                    format!(
                        "items of `{key}` in {} must be strings, found {}",
                        self.path,
                        other.type_str()
                    ),
                    type_hint(key, "an array of strings"),
                ),
            }
        }
        Some(Spanned::new(v.span(), out))
    }

    /// A table whose values are strings (labels): `(key, value)` pairs with their spans.
    pub fn string_map(&mut self, d: &mut Diags, key: &'static str) -> Option<Spanned<StringPairs>> {
        let (_, v) = self.raw(key)?;
        let DeValue::Table(t) = v.get_ref() else {
            self.wrong_type(d, key, v, "a table of strings");
            return None;
        };
        let mut out = Vec::new();
        for (k, val) in t.iter() {
            match val.get_ref() {
                DeValue::String(s) => out.push((
                    Spanned::new(k.span(), k.get_ref().to_string()),
                    Spanned::new(val.span(), s.to_string()),
                )),
                other => d.error(
                    val.span(),
                    format!(
                        "`{key}.{}` in {} must be a string, found {}",
                        k.get_ref(),
                        self.path,
                        other.type_str()
                    ),
                    format!("quote the value: {} = \"...\"", k.get_ref()),
                ),
            }
        }
        Some(Spanned::new(v.span(), out))
    }

    pub fn table(
        &mut self,
        d: &mut Diags,
        key: &'static str,
        path: impl Into<String>,
    ) -> Option<TableReader<'a, 'i>> {
        let (_, v) = self.raw(key)?;
        Self::of(d, key, v, path)
    }

    /// `[[key]]` entries, each as a table reader named `path(index)`.
    pub fn array_of_tables(
        &mut self,
        d: &mut Diags,
        key: &'static str,
    ) -> Option<Vec<TableReader<'a, 'i>>> {
        let (_, v) = self.raw(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            d.error(
                v.span(),
                format!(
                    "`{key}` must be an array of tables, found {}",
                    v.get_ref().type_str()
                ),
                format!(
                    "write [[{key}]] (double brackets), once per {key}; [{key}] defines a single table"
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => out.push(TableReader::new(
                    t,
                    item.span(),
                    format!("[[{key}]] #{}", i + 1),
                )),
                other => d.error(
                    item.span(),
                    format!(
                        "entries of `{key}` must be tables, found {}",
                        other.type_str()
                    ),
                    type_hint(key, "an array of tables"),
                ),
            }
        }
        Some(out)
    }

    /// Every key of this table (for free-form tables like `[groups]`).
    pub fn entries(&self) -> impl Iterator<Item = (Spanned<String>, &'a Value<'i>)> + 'a {
        self.table
            .iter()
            .map(|(k, v)| (Spanned::new(k.span(), k.get_ref().to_string()), v))
    }

    /// Reports every key that no getter asked for.
    pub fn finish(self, d: &mut Diags) {
        for (k, _) in self.table.iter() {
            let name = k.get_ref().as_ref();
            if self.known.contains(&name) {
                continue;
            }
            let mut known = self.known.clone();
            known.sort_unstable();
            known.dedup();
            let hint = self
                .special
                .and_then(|f| f(name))
                .unwrap_or_else(|| checks::one_of_hint(name, &known));
            d.error(
                k.span(),
                format!("unknown key `{name}` in {}", self.path),
                hint,
            );
        }
    }
}

/// Line/column (1-based, columns in characters) of byte offsets in a text.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        (line + 1, col + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters() {
        let text = "a = 1\nb = \"é\" x\n\nc";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(4), (1, 5));
        assert_eq!(idx.position(6), (2, 1));
        // After the two-byte 'é' and the closing quote.
        assert_eq!(idx.position(text.find(" x").unwrap() + 1), (2, 9));
        assert_eq!(idx.position(text.len()), (4, 2));
    }
}
