//! Command implementations: thin glue from the CLI to the engine. Errors become exit codes here.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, Command, Global};
use crate::exit::{self, Exit};
use crate::inventory::{self, Inventory, Role};
use crate::report::Reporter;

fn invalid(message: impl Into<String>) -> anyhow::Error {
    Exit {
        code: exit::INVALID,
        message: message.into(),
    }
    .into()
}

pub fn run(cli: Cli) -> u8 {
    init_tracing(cli.global.verbose, cli.global.quiet);
    let rep = Reporter::new(cli.global.output, cli.global.quiet, cli.global.verbose);
    let code = match dispatch(cli, &rep) {
        Ok(code) => code,
        Err(e) => {
            let code = exit_code(&e);
            if e.downcast_ref::<Exit>()
                .is_some_and(|x| x.message.is_empty())
            {
                return code;
            }
            if rep.json() {
                rep.json_doc(&serde_json::json!({ "ok": false, "error": format!("{e:#}") }));
            }
            rep.error(format!("{e:#}"));
            code
        }
    };
    if code == exit::FAILED && crate::apply::gave_up_on_lock() {
        rep.error(format!(
            "a host's lock ({}) stayed held by another otp-provision command; nothing more was \
             changed there. Run again once it has finished (exit {})",
            crate::apply::HOST_LOCK,
            exit::LOCKED
        ));
        return exit::LOCKED;
    }
    code
}

/// Invalid input (exit 2) is an [`Exit`] carrying that code, or an inventory asking for what
/// would break the running cluster (the operator changes the inventory, nothing was touched).
fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(x) = e.downcast_ref::<Exit>() {
        x.code
    } else if e
        .downcast_ref::<crate::phases::cluster::VersionChange>()
        .is_some()
    {
        exit::INVALID
    } else {
        exit::FAILED
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "otp_provision=debug,warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("OTP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .without_time()
        .try_init();
}

fn dispatch(cli: Cli, rep: &Reporter) -> anyhow::Result<u8> {
    let global = &cli.global;
    match cli.command {
        Command::Check => check(global, rep),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "otp-provision", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Lab { cmd } => {
            crate::lab::run(cmd, rep.json())?;
            Ok(exit::OK)
        }
        Command::Facts => engine::facts(global, rep),
        Command::Plan { detailed_exitcode } => engine::plan(global, rep, detailed_exitcode),
        Command::Up => engine::up(global, rep),
        Command::Render { out } => engine::render(global, rep, &out),
        Command::RemoveNode { name, force } => {
            engine::day2(global, rep, "remove-node", Some(&name), force)
        }
        Command::Reset => engine::day2(global, rep, "reset", None, false),
        Command::Logs(args) => {
            let inv = load_inventory(global, rep)?;
            crate::logs::run_blocking(&inv, &global.limit, &args, rep.json(), rep)
        }
    }
}

/// Load and validate the inventory, printing warnings; invalid input maps to exit code 2.
pub fn load_inventory(global: &Global, rep: &Reporter) -> anyhow::Result<Inventory> {
    let loaded = inventory::load(&global.inventory).map_err(|e| invalid(e.to_string()))?;
    for w in &loaded.warnings {
        rep.warn(w.to_string());
    }
    let inv = loaded.inventory;
    for name in &global.limit {
        if inv.host(name).is_none() {
            return Err(invalid(format!(
                "--limit names host {name:?}, which is not in {} (hosts: {})",
                global.inventory.display(),
                inv.hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(inv)
}

fn check(global: &Global, rep: &Reporter) -> anyhow::Result<u8> {
    let loaded = inventory::load(&global.inventory).map_err(|e| invalid(e.to_string()))?;
    for w in &loaded.warnings {
        rep.warn(w.to_string());
    }
    let inv = &loaded.inventory;
    let count = |r: Role| inv.hosts.iter().filter(|h| h.has_role(r)).count();
    if rep.json() {
        rep.json_doc(&serde_json::json!({
            "ok": true,
            "inventory": path_str(&global.inventory),
            "cluster": inv.cluster.name,
            "kubernetes_version": inv.cluster.kubernetes_version,
            "hosts": inv.hosts.len(),
            "control_planes": count(Role::ControlPlane),
            "workers": count(Role::Worker),
            "load_balancers": count(Role::LoadBalancer),
            "warnings": loaded.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        }));
    } else {
        rep.out(format!(
            "{}: ok: cluster {} (Kubernetes {}), {} hosts: {} control planes, {} workers, {} load balancers{}",
            global.inventory.display(),
            inv.cluster.name,
            inv.cluster.kubernetes_version,
            inv.hosts.len(),
            count(Role::ControlPlane),
            count(Role::Worker),
            count(Role::LoadBalancer),
            if loaded.warnings.is_empty() {
                String::new()
            } else {
                format!(", {} warning(s)", loaded.warnings.len())
            }
        ));
    }
    Ok(exit::OK)
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The SSH-driven commands: `plan` and `up` share [`crate::run::prepare`].
mod engine {
    use anyhow::Context;

    use super::*;
    use crate::journal::{Event, Journal};
    use crate::plan::Plan;
    use crate::playbook::Playbooks;
    use crate::run::{self, Unreachable};

    fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    }

    fn journal(inv: &Inventory, command: &str) -> anyhow::Result<Journal> {
        let j = Journal::create(&inv.run.state_dir, command)?;
        j.record(&Event::RunStarted {
            command,
            inventory: &inv.source.display().to_string(),
            version: env!("CARGO_PKG_VERSION"),
        });
        Ok(j)
    }

    fn playbooks(global: &Global) -> anyhow::Result<Playbooks> {
        Playbooks::load(global.playbooks.as_deref()).map_err(|e| invalid(e.to_string()))
    }

    fn report_unreachable(rep: &Reporter, unreachable: &[Unreachable]) {
        for u in unreachable {
            rep.error(format!("{}: unreachable: {}", u.host, u.error));
        }
    }

    pub fn facts(global: &Global, rep: &Reporter) -> anyhow::Result<u8> {
        let inv = load_inventory(global, rep)?;
        let books = playbooks(global)?;
        let j = journal(&inv, "facts")?;
        let mut reqs = crate::phases::fact_requests(&inv, &books, &global.limit)?;
        for req in reqs.values_mut() {
            req.display = true;
        }
        let started = std::time::Instant::now();
        let g = runtime()?.block_on(async {
            let g = run::gather(&inv, &reqs, rep, &j).await;
            run::close_all(&g.conns).await;
            g
        });
        let ok = g.unreachable.is_empty();
        j.record(&Event::RunFinished {
            ok,
            changes_applied: 0,
            ms: started.elapsed().as_millis() as u64,
        });
        if rep.json() {
            rep.json_doc(&serde_json::json!({
                "ok": ok,
                "hosts": g.facts,
                "unreachable": g.unreachable,
            }));
        } else {
            for (host, f) in &g.facts {
                rep.out(summarize_facts(host, f));
            }
        }
        report_unreachable(rep, &g.unreachable);
        Ok(if ok { exit::OK } else { exit::FAILED })
    }

    fn summarize_facts(host: &str, f: &crate::facts::Facts) -> String {
        let pkg = |n: &str| {
            f.packages
                .get(n)
                .map(|p| format!("{n} {}{}", p.version, if p.held { " (held)" } else { "" }))
        };
        let svc = |n: &str| f.services.get(n).map(|s| format!("{n} {}", s.active));
        let mut extra: Vec<String> = ["containerd", "kubeadm", "kubelet"]
            .iter()
            .filter_map(|n| pkg(n))
            .collect();
        extra.extend(["containerd", "kubelet"].iter().filter_map(|n| svc(n)));
        format!(
            "{host}: {}, kernel {} {}, {} CPU, {} MiB, hostname {}, swap {}{}{}",
            if f.os.pretty_name.is_empty() {
                format!("{} {}", f.os.id, f.os.version_id)
            } else {
                f.os.pretty_name.clone()
            },
            f.kernel,
            f.arch,
            f.cpus,
            f.mem_total_kib / 1024,
            f.hostname,
            if f.swap_active { "on" } else { "off" },
            if extra.is_empty() { "" } else { "; " },
            extra.join(", ")
        )
    }

    fn print_plan(rep: &Reporter, plan: &Plan) {
        for h in &plan.hosts {
            let changes = h.changes();
            let same = h.steps.len() - changes;
            if changes == 0 {
                rep.out(format!(
                    "{}: nothing to do ({same} steps up to date)",
                    h.host
                ));
            } else {
                rep.out(format!(
                    "{}: {changes} to change, {same} up to date",
                    h.host
                ));
            }
            for s in h.steps.iter().filter(|s| s.change || rep.verbose > 0) {
                rep.out(s.line());
            }
        }
    }

    fn print_cluster(rep: &Reporter, p: &run::Prepared) {
        if let Some(why) = &p.cluster_skipped {
            rep.out(format!("cluster: not planned: {why}"));
        } else if p.cluster.is_empty() {
            rep.out("cluster: nothing to do");
        } else {
            rep.out(format!("cluster: {} step(s)", p.cluster.len()));
            let mut steps: Vec<_> = p.cluster.iter().collect();
            steps.sort_by_key(|s| s.wave);
            for s in steps {
                rep.out(s.line());
            }
        }
        let addons = p.addon_steps();
        if let Some(first) = addons.first() {
            rep.out(format!("addons (applied from {}):", first.host));
            for s in &addons {
                rep.out(s.line());
            }
        }
    }

    fn plan_json(p: &run::Prepared) -> serde_json::Value {
        serde_json::json!({
            "changes": p.changes(),
            "hosts": p.plan.hosts,
            "cluster": p.cluster.iter().map(|s| serde_json::json!({
                "id": s.id, "host": s.host, "wave": s.wave, "title": s.title, "reason": s.reason,
            })).collect::<Vec<_>>(),
            "cluster_skipped": p.cluster_skipped,
            "addons": p.addons.iter().map(|a| serde_json::json!({
                "summary": a.summary(), "changes": a.changes(),
            })).collect::<Vec<_>>(),
            "unreachable": p.gathered.unreachable,
            "steps": p.steps().iter().map(crate::plan::Step::json).collect::<Vec<_>>(),
        })
    }

    pub fn plan(global: &Global, rep: &Reporter, detailed: bool) -> anyhow::Result<u8> {
        let inv = load_inventory(global, rep)?;
        let books = playbooks(global)?;
        let j = journal(&inv, "plan")?;
        let started = std::time::Instant::now();
        let prepared = runtime()?.block_on(async {
            let p = run::prepare(&inv, &books, &global.limit, rep, &j).await;
            if let Ok(p) = &p {
                run::close_all(&p.gathered.conns).await;
            }
            p
        })?;
        let plan = &prepared.plan;
        let unreachable = &prepared.gathered.unreachable;
        j.record(&Event::RunFinished {
            ok: unreachable.is_empty(),
            changes_applied: 0,
            ms: started.elapsed().as_millis() as u64,
        });
        if rep.json() {
            let mut doc = plan_json(&prepared);
            doc["ok"] = serde_json::Value::Bool(unreachable.is_empty());
            rep.json_doc(&doc);
        } else {
            print_plan(rep, plan);
            print_cluster(rep, &prepared);
            rep.out(format!(
                "plan: {} node change(s) on {} host(s), {} cluster step(s), {} addon(s) to change",
                plan.changes(),
                plan.hosts.iter().filter(|h| h.changes() > 0).count(),
                prepared.cluster.len(),
                prepared.addons.iter().filter(|a| a.changes()).count()
            ));
        }
        report_unreachable(rep, unreachable);
        if !unreachable.is_empty() {
            return Ok(exit::FAILED);
        }
        Ok(if detailed && prepared.changes() > 0 {
            exit::CHANGES
        } else {
            exit::OK
        })
    }

    pub fn up(global: &Global, rep: &Reporter) -> anyhow::Result<u8> {
        let inv = load_inventory(global, rep)?;
        let books = playbooks(global)?;
        let j = journal(&inv, "up")?;
        let started = std::time::Instant::now();
        let rt = runtime()?;
        let prepared = rt.block_on(run::prepare(&inv, &books, &global.limit, rep, &j))?;
        let plan = &prepared.plan;
        let g = &prepared.gathered;
        if !rep.json() {
            print_plan(rep, plan);
            print_cluster(rep, &prepared);
        }
        let mut report = None;
        let mut cluster_result = None;
        if prepared.changes() == 0 {
            if !rep.json() {
                rep.out("up: nothing to do");
            }
        } else {
            if !global.yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    rt.block_on(run::close_all(&g.conns));
                    return Err(invalid(
                        "up: changes are pending and stdin is not a terminal; \
                         review them with `otp-provision plan` and re-run with --yes",
                    ));
                }
                if !rep.confirm(&format!("Apply {} change(s)?", prepared.changes())) {
                    rt.block_on(run::close_all(&g.conns));
                    rep.out("up: cancelled, nothing changed");
                    return Ok(exit::FAILED);
                }
            }
            let r = rt.block_on(run::apply(&inv, plan, &g.conns, rep, &j));
            // Cluster steps build on prepared nodes: never start them over a failed node.
            if r.ok()
                && (!prepared.cluster.is_empty() || prepared.addons.iter().any(|a| a.changes()))
            {
                let obs = run::RunObserver { rep, journal: &j };
                // Addons come last: they need the cluster the steps before them finished.
                cluster_result =
                    Some(rt.block_on(crate::apply::apply_waves(&prepared.waves(), &g.conns, &obs)));
            }
            report = Some(r);
        }
        rt.block_on(run::close_all(&g.conns));
        let mut applied: usize = report
            .as_ref()
            .map(|r| r.hosts.iter().map(|h| h.applied).sum())
            .unwrap_or(0);
        let failed: Vec<_> = report
            .as_ref()
            .map(|r| r.failures().cloned().collect())
            .unwrap_or_default();
        let mut cluster_error = None;
        match cluster_result {
            Some(Ok(n)) => applied += n,
            Some(Err(e)) => cluster_error = Some(e.to_string()),
            None => {}
        }
        let ok = failed.is_empty() && g.unreachable.is_empty() && cluster_error.is_none();
        j.record(&Event::RunFinished {
            ok,
            changes_applied: applied,
            ms: started.elapsed().as_millis() as u64,
        });
        if rep.json() {
            let mut doc = plan_json(&prepared);
            doc["ok"] = serde_json::Value::Bool(ok);
            doc["applied"] = serde_json::json!(applied);
            doc["report"] = serde_json::to_value(&report).unwrap_or_default();
            doc["cluster_error"] = serde_json::json!(cluster_error);
            rep.json_doc(&doc);
        } else if report.is_some() {
            rep.out(format!(
                "up: {applied} change(s) applied in {:.1}s",
                started.elapsed().as_secs_f64()
            ));
        }
        for h in &failed {
            if let Some(f) = &h.failed {
                rep.error(format!("{}: {f}", h.host));
            }
        }
        if let Some(e) = &cluster_error {
            rep.error(e);
        }
        report_unreachable(rep, &g.unreachable);
        rep.info(format!("journal: {}", j.path().display()));
        Ok(if ok { exit::OK } else { exit::FAILED })
    }

    /// A day-2 operation of the registry (`remove-node`, `reset`): same gather as `up`, then
    /// the operation's plan, shown before it runs.
    pub fn day2(
        global: &Global,
        rep: &Reporter,
        command: &str,
        node: Option<&str>,
        force: bool,
    ) -> anyhow::Result<u8> {
        let op = crate::operations::get(command)
            .with_context(|| format!("{command}: not a cluster operation"))?;
        let inv = load_inventory(global, rep)?;
        if let Some(name) = node
            && inv.host(name).is_none()
        {
            return Err(invalid(format!(
                "{command}: {name:?} is not a host of {}",
                inv.source.display()
            )));
        }
        if op.needs_yes && !global.yes {
            return Err(invalid(format!(
                "{command} tears down the whole cluster; re-run with --yes if that is what you want"
            )));
        }
        let books = playbooks(global)?;
        let j = journal(&inv, command)?;
        let started = std::time::Instant::now();
        let rt = runtime()?;
        let mut reqs = crate::phases::fact_requests(&inv, &books, &[])?;
        run::cluster::add_probe_reports(&inv, &mut reqs);
        let g = rt.block_on(run::gather(&inv, &reqs, rep, &j));
        let obs = run::RunObserver { rep, journal: &j };
        let state = rt.block_on(run::cluster::state(&inv, &g.facts, &g.conns, &obs));
        let request = crate::operations::Request {
            node,
            force,
            books: &books,
        };
        let steps = state
            .map_err(anyhow::Error::from)
            .and_then(|probed| (op.plan)(&inv, &probed.state, &request).map_err(Into::into));
        let steps = match steps {
            Ok(s) => s,
            Err(e) => {
                rt.block_on(run::close_all(&g.conns));
                report_unreachable(rep, &g.unreachable);
                return Err(e);
            }
        };
        for s in &steps {
            rep.out(s.line());
        }
        let confirmed = global.yes
            || (std::io::IsTerminal::is_terminal(&std::io::stdin())
                && rep.confirm(&format!("{command}: run {} step(s)?", steps.len())));
        if !confirmed {
            rt.block_on(run::close_all(&g.conns));
            return Err(invalid(format!(
                "{command}: not confirmed; nothing changed (use --yes in automation)"
            )));
        }
        let res = rt.block_on(crate::apply::apply_waves(&steps, &g.conns, &obs));
        rt.block_on(run::close_all(&g.conns));
        let ok = res.is_ok() && g.unreachable.is_empty();
        j.record(&Event::RunFinished {
            ok,
            changes_applied: *res.as_ref().unwrap_or(&0),
            ms: started.elapsed().as_millis() as u64,
        });
        report_unreachable(rep, &g.unreachable);
        match res {
            Ok(n) => rep.out(format!("{command}: {n} step(s) applied")),
            Err(e) => rep.error(e.to_string()),
        }
        Ok(if ok { exit::OK } else { exit::FAILED })
    }

    pub fn render(global: &Global, rep: &Reporter, out: &Path) -> anyhow::Result<u8> {
        let inv = load_inventory(global, rep)?;
        let books = playbooks(global)?;
        let mut r = crate::render::render_all(&inv, &books, out)
            .with_context(|| format!("render into {}", out.display()))?;
        // Cluster files: kubeadm configs, endpoint, security configs per host; manifests
        // applied to the cluster under cluster/. Run-time values stay placeholders.
        use crate::phases::cluster;
        let write = |path: std::path::PathBuf,
                     content: &str|
         -> anyhow::Result<std::path::PathBuf> {
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
            }
            std::fs::write(&path, content).with_context(|| format!("write {}", path.display()))?;
            Ok(path)
        };
        for h in &inv.hosts {
            for f in cluster::render_files(&inv, h)? {
                let rel = f.path.trim_start_matches('/');
                r.files.push(write(
                    out.join("hosts").join(&h.name).join(rel),
                    &f.content,
                )?);
            }
        }
        for f in cluster::render_cluster_files(&inv)? {
            let name = std::path::Path::new(&f.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.path.clone());
            r.files
                .push(write(out.join("cluster").join(name), &f.content)?);
        }
        let parsers = crate::addons::log_parsers(&inv);
        for (rel, content) in crate::addons::render_files(&inv, &parsers)? {
            r.files.push(write(out.join(rel), &content)?);
        }
        for n in &r.notes {
            rep.warn(n);
        }
        if rep.json() {
            rep.json_doc(&serde_json::json!({
                "ok": true,
                "files": r.files,
                "notes": r.notes,
            }));
        } else {
            rep.out(format!(
                "render: {} file(s) written under {}",
                r.files.len(),
                out.display()
            ));
        }
        Ok(exit::OK)
    }
}
