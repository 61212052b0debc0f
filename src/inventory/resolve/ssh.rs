//! SSH settings: one `ssh` table as written (`[ssh]`, a group's, a host's, a bastion's), and the
//! merged result resolved into [`SshSettings`] (defaults, absolute paths, someone can log in).

use std::path::PathBuf;

use super::values::{Env, Sp, choice, resolve_path, sp, warn_missing};
use crate::inventory::checks;
use crate::inventory::model::*;
use crate::inventory::reader::{Diags, Span, TableReader};

const DEFAULT_KNOWN_HOSTS: &str = "~/.ssh/known_hosts";

/// One `ssh` table as written; `None` means "not set here, inherit".
#[derive(Debug, Clone, Default)]
pub(super) struct RawSsh {
    pub(super) user: Option<Sp<String>>,
    pub(super) port: Option<Sp<u16>>,
    pub(super) key_files: Option<Sp<Vec<Sp<String>>>>,
    pub(super) certificate: Option<Sp<String>>,
    pub(super) agent: Option<Sp<bool>>,
    pub(super) password: Option<Sp<bool>>,
    pub(super) keyboard_interactive: Option<Sp<bool>>,
    pub(super) askpass: Option<Sp<String>>,
    pub(super) bastion: Option<Sp<String>>,
    pub(super) known_hosts: Option<Sp<Vec<Sp<String>>>>,
    pub(super) host_key_policy: Option<Sp<HostKeyPolicy>>,
    pub(super) host_keys: Option<Sp<Vec<Sp<String>>>>,
    pub(super) sudo: Option<Sp<bool>>,
    pub(super) sudo_password_env: Option<Sp<String>>,
    pub(super) connect_timeout_secs: Option<Sp<i64>>,
    pub(super) command_timeout_secs: Option<Sp<i64>>,
}

pub(super) const SSH_KEYS: [&str; 16] = [
    "user",
    "port",
    "key_files",
    "certificate",
    "agent",
    "password",
    "keyboard_interactive",
    "askpass",
    "bastion",
    "known_hosts",
    "host_key_policy",
    "host_keys",
    "sudo",
    "sudo_password_env",
    "connect_timeout_secs",
    "command_timeout_secs",
];

impl RawSsh {
    /// `over`'s settings win where set. Lists replace, they do not append: a host that names its
    /// own key_files wants exactly those.
    pub(super) fn overlay(&self, over: &RawSsh) -> RawSsh {
        macro_rules! pick {
            ($($f:ident),*) => { RawSsh { $($f: over.$f.clone().or_else(|| self.$f.clone()),)* } };
        }
        pick!(
            user,
            port,
            key_files,
            certificate,
            agent,
            password,
            keyboard_interactive,
            askpass,
            bastion,
            known_hosts,
            host_key_policy,
            host_keys,
            sudo,
            sudo_password_env,
            connect_timeout_secs,
            command_timeout_secs
        )
    }
}

pub(super) fn read_ssh(mut t: TableReader<'_, '_>, d: &mut Diags, in_bastion: bool) -> RawSsh {
    let user = t.nonempty(d, "user").and_then(|u| {
        if checks::user_name(u.get_ref()) {
            Some(u)
        } else {
            d.error(
                u.span(),
                format!("`{}` is not a valid SSH user name", u.get_ref()),
                "a user name has no spaces, '@' or ':', e.g. user = \"ops\"",
            );
            None
        }
    });
    let port = t.port(d, "port");
    let key_files = t.string_list(d, "key_files");
    let certificate = t.nonempty(d, "certificate");
    let agent = t.boolean(d, "agent");
    let password = t.boolean(d, "password");
    let keyboard_interactive = t.boolean(d, "keyboard_interactive");
    let askpass = t.nonempty(d, "askpass");
    let bastion = t.nonempty(d, "bastion");
    if in_bastion && let Some(b) = &bastion {
        d.error(
            b.span(),
            "a bastion cannot itself go through a bastion",
            "remove `bastion` here: otp-provision tunnels through one hop, which connects directly",
        );
    }
    let bastion = bastion.filter(|_| !in_bastion);
    let known_hosts = t.string_list(d, "known_hosts");
    let policy_str = t.string(d, "host_key_policy");
    let host_key_policy = choice(
        d,
        "host_key_policy",
        policy_str,
        &[
            ("strict", HostKeyPolicy::Strict),
            ("accept-new", HostKeyPolicy::AcceptNew),
        ],
    );
    let host_keys = t.string_list(d, "host_keys").map(|keys| {
        let span = keys.span();
        let good: Vec<Sp<String>> = keys
            .into_inner()
            .into_iter()
            .filter(|k| match checks::host_key(k.get_ref()) {
                Ok(()) => true,
                Err((m, h)) => {
                    d.error(k.span(), m, h);
                    false
                }
            })
            .collect();
        sp(span, good)
    });
    if let (Some(keys), Some(policy)) = (&host_keys, &host_key_policy)
        && *policy.get_ref() == HostKeyPolicy::AcceptNew
        && !keys.get_ref().is_empty()
    {
        d.warn(
            policy.span(),
            "host_key_policy = \"accept-new\" has no effect next to pinned host_keys",
            "pinned keys are the only keys accepted; remove host_key_policy or host_keys",
        );
    }
    let sudo = t.boolean(d, "sudo");
    let sudo_password_env = t.nonempty(d, "sudo_password_env").and_then(|e| {
        if checks::env_name(e.get_ref()) {
            Some(e)
        } else {
            d.error(
                e.span(),
                format!("`{}` is not an environment variable name", e.get_ref()),
                "name the variable, not its value: letters, digits and '_', e.g. \"OTP_SUDO_PASSWORD\"",
            );
            None
        }
    });
    let timeout_hint = "seconds, at least 1";
    let connect_timeout_secs = t.integer(d, "connect_timeout_secs", 1, 3600, timeout_hint);
    let command_timeout_secs = t.integer(d, "command_timeout_secs", 1, 7 * 24 * 3600, timeout_hint);
    t.finish(d);
    RawSsh {
        user,
        port,
        key_files,
        certificate,
        agent,
        password,
        keyboard_interactive,
        askpass,
        bastion,
        known_hosts,
        host_key_policy,
        host_keys,
        sudo,
        sudo_password_env,
        connect_timeout_secs,
        command_timeout_secs,
    }
}

/// Reads `key` as an ssh table if present.
pub(super) fn ssh_table(
    t: &mut TableReader<'_, '_>,
    d: &mut Diags,
    owner: &str,
    in_bastion: bool,
) -> RawSsh {
    match t.table(d, "ssh", format!("the ssh settings of {owner}")) {
        Some(s) => read_ssh(s, d, in_bastion),
        None => RawSsh::default(),
    }
}

/// Merged raw settings -> resolved [`SshSettings`] (defaults filled in, paths absolute).
pub(super) fn resolve_ssh(raw: &RawSsh, env: &Env, d: &mut Diags) -> SshSettings {
    let key_files = raw
        .key_files
        .as_ref()
        .map(|l| {
            l.get_ref()
                .iter()
                .filter_map(|p| {
                    let path = resolve_path(env, d, p)?;
                    warn_missing(
                        d,
                        p,
                        &path,
                        "key file",
                        "fix the path, or remove it and rely on the ssh agent",
                    );
                    Some(path)
                })
                .collect()
        })
        .unwrap_or_default();
    let certificate = raw.certificate.as_ref().and_then(|p| {
        let path = resolve_path(env, d, p)?;
        warn_missing(
            d,
            p,
            &path,
            "certificate",
            "point at the -cert.pub file signed for your key",
        );
        Some(path)
    });
    // A bare program name is looked up in PATH when run, like OpenSSH's SSH_ASKPASS.
    let askpass = raw.askpass.as_ref().and_then(|p| {
        if !p.get_ref().contains('/') && !p.get_ref().starts_with('~') {
            return Some(PathBuf::from(p.get_ref()));
        }
        let path = resolve_path(env, d, p)?;
        warn_missing(
            d,
            p,
            &path,
            "askpass program",
            "give the path of an executable that prints the answer to the prompt in argv[1]",
        );
        Some(path)
    });
    let host_keys: Vec<String> = raw
        .host_keys
        .as_ref()
        .map(|l| l.get_ref().iter().map(|k| k.get_ref().clone()).collect())
        .unwrap_or_default();
    let host_key_policy = raw
        .host_key_policy
        .as_ref()
        .map(|p| *p.get_ref())
        .unwrap_or(HostKeyPolicy::Strict);
    let known_hosts = match &raw.known_hosts {
        Some(l) => l
            .get_ref()
            .iter()
            .filter_map(|p| {
                let path = resolve_path(env, d, p)?;
                if host_key_policy == HostKeyPolicy::Strict && host_keys.is_empty() {
                    warn_missing(
                        d,
                        p,
                        &path,
                        "known_hosts file",
                        "create it (ssh-keyscan), pin host_keys, or use host_key_policy = \"accept-new\"",
                    );
                }
                Some(path)
            })
            .collect(),
        None => env
            .home
            .as_ref()
            .map(|h| {
                vec![h.join(
                    DEFAULT_KNOWN_HOSTS
                        .strip_prefix("~/")
                        .unwrap_or(DEFAULT_KNOWN_HOSTS),
                )]
            })
            .unwrap_or_default(),
    };
    let b =
        |v: &Option<Sp<bool>>, default: bool| v.as_ref().map(|x| *x.get_ref()).unwrap_or(default);
    SshSettings {
        user: raw
            .user
            .as_ref()
            .map(|u| u.get_ref().clone())
            .unwrap_or_else(|| "root".into()),
        port: raw.port.as_ref().map(|p| *p.get_ref()).unwrap_or(22),
        key_files,
        certificate,
        agent: b(&raw.agent, true),
        password: b(&raw.password, false),
        keyboard_interactive: b(&raw.keyboard_interactive, false),
        askpass,
        bastion: raw.bastion.as_ref().map(|s| s.get_ref().clone()),
        known_hosts,
        host_key_policy,
        host_keys,
        sudo: b(&raw.sudo, false),
        sudo_password_env: raw.sudo_password_env.as_ref().map(|s| s.get_ref().clone()),
        connect_timeout_secs: raw
            .connect_timeout_secs
            .as_ref()
            .map(|n| *n.get_ref() as u64)
            .unwrap_or(10),
        command_timeout_secs: raw
            .command_timeout_secs
            .as_ref()
            .map(|n| *n.get_ref() as u64)
            .unwrap_or(900),
    }
}

/// A host or bastion nobody could log in to is an error now rather than at connect time.
pub(super) fn check_auth(d: &mut Diags, raw: &RawSsh, s: &SshSettings, who: &str, at: Span) {
    if !s.agent && s.key_files.is_empty() && !s.password && !s.keyboard_interactive {
        let span = raw.agent.as_ref().map(|a| a.span()).unwrap_or(at);
        d.error(
            span,
            format!("{who} has no SSH authentication method (agent = false and no key_files)"),
            "set agent = true, list key_files, or allow password / keyboard_interactive",
        );
    }
}

/// Keys that belong in a host's (or bastion's) ssh table rather than the host itself.
pub(super) fn misplaced_ssh_key(key: &str) -> Option<String> {
    SSH_KEYS.contains(&key).then(|| {
        format!(
            "SSH settings go in the ssh table: ssh = {{ {key} = ... }}, or in [ssh] for all hosts"
        )
    })
}
