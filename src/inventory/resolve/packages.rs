//! `[packages]`: where Kubernetes packages come from (upstream, a mirror, signed or not).

use super::values::{Sp, choice};
use crate::inventory::checks;
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, TableReader};

pub(super) fn read_packages(mut t: TableReader<'_, '_>, d: &mut Diags) -> Option<PackageSource> {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Upstream,
        Mirror,
    }
    let source_s = t.string(d, "source");
    let source_span = source_s.as_ref().map(|s| s.span());
    let kind = match source_s {
        None if t.key_span("source").is_none() => Some(Kind::Upstream),
        other => choice(
            d,
            "package source",
            other,
            &[("upstream", Kind::Upstream), ("mirror", Kind::Mirror)],
        )
        .map(|k| k.into_inner()),
    };
    let check_url = |d: &mut Diags, u: Option<Sp<String>>| {
        u.filter(|u| match checks::http_url(u.get_ref()) {
            Ok(()) => true,
            Err((m, h)) => {
                d.error(u.span(), m, h);
                false
            }
        })
    };
    let url = t.nonempty(d, "url");
    let url = check_url(d, url);
    let key_url = t.nonempty(d, "key_url");
    let key_url = check_url(d, key_url);
    let debian = t.boolean(d, "debian");
    let result = match kind {
        Some(Kind::Mirror) => match url {
            Some(u) => Some(PackageSource::Mirror {
                // `{url}/kubernetes/...` is appended later; a trailing slash would double it.
                url: u.get_ref().trim_end_matches('/').to_string(),
                key_url: key_url.map(|k| k.into_inner()),
                debian: debian.map(|b| b.into_inner()).unwrap_or(false),
            }),
            None => {
                if t.key_span("url").is_none() {
                    d.error(
                        source_span.unwrap_or(t.span.clone()),
                        "source = \"mirror\" needs a `url`",
                        "add url = \"https://mirror.example.com/k8s\" (laid out like pkgs.k8s.io)",
                    );
                }
                None
            }
        },
        Some(Kind::Upstream) => {
            for k in ["url", "key_url", "debian"] {
                if let Some(s) = t.key_span(k) {
                    d.error(
                        s,
                        format!("`{k}` is only used with source = \"mirror\""),
                        "set source = \"mirror\" in [packages], or remove this key",
                    );
                }
            }
            Some(PackageSource::Upstream)
        }
        None => None,
    };
    t.finish(d);
    result
}
