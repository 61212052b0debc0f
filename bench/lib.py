#!/usr/bin/env python3
"""Helpers for bench/run: inventories, Ansible recaps, run journals, the results table.

Standard library only (tomllib: Python 3.11+), so the driver needs nothing installed on the host
besides the Ansible venv it creates itself.
"""

import argparse
import collections
import json
import re
import statistics
import sys
import tomllib
from pathlib import Path


def load_inventory(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def cmd_subset(a):
    """Copy the lab inventory without `--exclude` hosts (the worker added later)."""
    text = Path(a.inventory).read_text()
    # Host blocks are `[[host]]` tables written by `lab up`; drop whole blocks by name.
    blocks = re.split(r"(?m)^(?=\[\[host\]\]\s*$)", text)
    keep = [
        b
        for b in blocks
        if not any(re.search(rf'(?m)^name = "{re.escape(h)}"$', b) for h in a.exclude)
    ]
    Path(a.out).write_text("".join(keep))
    hosts = [h["name"] for h in load_inventory(a.out).get("host", [])]
    print(",".join(hosts))


def cmd_ansible_inventory(a):
    """Ansible INI inventory with the same user, key, known_hosts and strict host keys."""
    inv_path = Path(a.inventory).resolve()
    base = inv_path.parent
    inv = load_inventory(inv_path)
    ssh = inv["ssh"]
    key = (base / ssh["key_files"][0]).resolve()
    known = [str((base / k).resolve()) for k in ssh["known_hosts"]]
    groups = collections.defaultdict(list)
    for h in inv["host"]:
        for r in h["roles"]:
            groups[r.replace("-", "_")].append(f'{h["name"]} ansible_host={h["address"]}')
    lines = []
    for g in ("control_plane", "worker", "load_balancer"):
        lines.append(f"[{g}]")
        lines.extend(groups.get(g, []))
        lines.append("")
    common = (
        f"-o UserKnownHostsFile={' '.join(known)} -o StrictHostKeyChecking=yes "
        "-o IdentitiesOnly=yes -o BatchMode=yes"
    )
    lines += [
        "[all:vars]",
        f"ansible_user={ssh['user']}",
        f"ansible_ssh_private_key_file={key}",
        f"ansible_ssh_common_args='{common}'",
        f"ansible_become={'true' if ssh.get('sudo') else 'false'}",
        f"packages_url={inv['packages']['url']}",
        f"kube_version={inv['cluster']['kubernetes_version']}",
        "",
    ]
    Path(a.out).write_text("\n".join(lines))


def cmd_recap(a):
    """Sum of the PLAY RECAP counters: `ok changed unreachable failed hosts`."""
    tot = collections.Counter()
    hosts = 0
    for line in Path(a.log).read_text(errors="replace").splitlines():
        m = re.match(r"^\S+\s+:\s+(ok=\d+.*)$", line)
        if not m:
            continue
        hosts += 1
        for k, v in re.findall(r"(\w+)=(\d+)", m.group(1)):
            tot[k] += int(v)
    print(tot["ok"], tot["changed"], tot["unreachable"], tot["failed"], hosts)


def cmd_journal(a):
    """Round trips and touched hosts of one run journal (see src/journal.rs).

    Prints `connects_per_host execs_max execs_median touched` where touched lists the hosts
    that ran at least one command able to change them (plan steps, not facts or probes).
    """
    execs = collections.Counter()
    connects = collections.Counter()
    touched = set()
    for line in Path(a.journal).read_text().splitlines():
        ev = json.loads(line)
        if ev["event"] == "connect":
            connects[ev["host"]] += 1
        elif ev["event"] == "exec":
            execs[ev["host"]] += 1
            if ev.get("changes"):
                touched.add(ev["host"])
    hosts = set(connects) | set(execs)
    counts = [execs[h] for h in hosts] or [0]
    print(
        max(connects.values() or [0]),
        max(counts),
        f"{statistics.median(counts):g}",
        ",".join(sorted(touched)) or "-",
    )


def cmd_steps_ms(a):
    """Milliseconds of the exec events of `host` whose step id starts with one of `prefixes`."""
    ms = 0
    for line in Path(a.journal).read_text().splitlines():
        ev = json.loads(line)
        if ev["event"] == "exec" and ev["host"] == a.host and ev["step"].startswith(tuple(a.prefix)):
            ms += ev["ms"]
    print(ms)


# Order and labels of the table rows.
ROWS = [
    ("facts", "facts, all nodes"),
    ("prep", "node preparation, fresh nodes"),
    ("prep-noop", "no-op node preparation (prepared nodes)"),
    ("cluster", "first full `up` after preparation (cluster phases)"),
    ("noop", "no-op `up`, converged cluster"),
    ("add-worker", "add one worker to the converged cluster"),
]
TOOLS = ["otp", "ansible-default", "ansible-tuned"]


def fmt(x):
    if x is None:
        return "–"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def cmd_summarize(a):
    """Markdown tables from results.tsv (size run tool what seconds rss_kb rc extra)."""
    rows = []
    for line in Path(a.results).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split("\t")
        # Since the controller CPU column (index 8) came in, extra is the tenth field.
        cpu, extra = (f[8], f[9]) if len(f) > 9 else (None, f[8] if len(f) > 8 else "")
        rows.append(
            dict(size=int(f[0]), run=f[1], tool=f[2], what=f[3], secs=float(f[4]),
                 rss=int(f[5] or 0), rc=int(f[6]), load=float(f[7]),
                 cpu=float(cpu) if cpu else None, extra=extra)
        )
    sizes = sorted({r["size"] for r in rows})
    ok = [r for r in rows if r["rc"] == 0]
    failed = [r for r in rows if r["rc"] != 0]

    def sample(size, tool, what):
        return [r for r in ok if r["size"] == size and r["tool"] == tool and r["what"] == what]

    def med(size, tool, what):
        s = sample(size, tool, what)
        return (statistics.median(r["secs"] for r in s), len(s)) if s else (None, 0)

    def spread(size, tool, what):
        s = [r["secs"] for r in sample(size, tool, what)]
        return f"{fmt(min(s))}-{fmt(max(s))}, " if len(s) > 1 else ""

    out = []
    out.append("Median wall-clock seconds (min-max, n = samples); ratio = otp-provision median / Ansible median.\n")
    out.append(
        "| N | measurement | otp-provision | Ansible default | Ansible tuned "
        "| ratio vs default | ratio vs tuned |"
    )
    out.append("|---:|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        for what, label in ROWS:
            meds = {t: med(size, t, what) for t in TOOLS}
            if all(n == 0 for _, n in meds.values()):
                continue
            cells = []
            for t in TOOLS:
                m, n = meds[t]
                cells.append(f"{fmt(m)} ({spread(size, t, what)}n={n})" if n else "–")
            o = meds["otp"][0]
            ratios = []
            for t in TOOLS[1:]:
                m = meds[t][0]
                ratios.append(f"{o / m:.3f} ({m / o:.{0 if m / o >= 10 else 1}f}x faster)"
                              if o and m else "–")
            out.append(f"| {size} | {label} | " + " | ".join(cells + ratios) + " |")
    for size in sizes:
        loads = [r["load"] for r in rows if r["size"] == size]
        out.append(f"N={size}: 1-minute load average before each measurement "
                   f"{min(loads):.1f}-{max(loads):.1f} (median {statistics.median(loads):.1f}).")
    cpu_rows = []
    for size in sizes:
        for what, label in ROWS:
            cells = []
            for t in TOOLS:
                c = [r["cpu"] for r in sample(size, t, what) if r["cpu"] is not None]
                cells.append(f"{statistics.median(c):.2f}" if c else "–")
            if any(c != "–" for c in cells):
                cpu_rows.append(f"| {size} | {label} | " + " | ".join(cells) + " |")
    if cpu_rows:
        out.append("")
        out.append("Controller CPU seconds (user + system of the tool and its children, median): "
                   "the tool's own work, apart from the nodes' share of the machine.\n")
        out.append("| N | measurement | otp-provision | Ansible default | Ansible tuned |")
        out.append("|---:|---|---:|---:|---:|")
        out.extend(cpu_rows)
    out.append("")
    out.append("otp-provision details (peak RSS: max over the runs; SSH connections, remote commands "
               "and hosts with changing commands: from each run's journal):\n")
    out.append(
        "| N | measurement | peak RSS MiB | SSH connections / host | remote commands / host "
        "(max, median) | hosts touched |"
    )
    out.append("|---:|---|---:|---:|---:|---|")
    for size in sizes:
        for what, label in ROWS:
            s = sample(size, "otp", what)
            if not s:
                continue
            rss = max(r["rss"] for r in s) / 1024
            conn = execs = touched = "–"
            extras = [r["extra"] for r in s if r["extra"].startswith("journal:")]
            if extras:
                parts = [e.split(":", 1)[1].split() for e in extras]
                conn = "/".join(sorted({p[0] for p in parts}))
                execs = "/".join(sorted({f"{p[1]}, {float(p[2]):g}" for p in parts}))
                sets = sorted({p[3] for p in parts if len(p) > 3})
                # A whole-lab list says nothing more than its size.
                touched = "; ".join(
                    t if t.count(",") < 4 else f"all {t.count(',') + 1}" for t in sets
                )
            out.append(f"| {size} | {label} | {rss:.1f} | {conn} | {execs} | {touched} |")
    notes = [r for r in ok if r["tool"] != "otp" and r["extra"].startswith("recap:")]
    if notes:
        out.append("")
        out.append("Ansible PLAY RECAP totals per run (changed tasks over all hosts):\n")
        out.append("| N | tool | measurement | changed per run |")
        out.append("|---:|---|---|---|")
        seen = collections.defaultdict(list)
        for r in notes:
            seen[(r["size"], r["tool"], r["what"])].append(r["extra"].split()[2])
        for (size, tool, what), ch in sorted(seen.items()):
            out.append(f"| {size} | {tool} | {what} | {', '.join(ch)} |")
    adds = [r for r in ok if r["what"] == "add-worker" and "newnode-pkg-s:" in r["extra"]]
    if adds:
        out.append("")
        out.append("Adding a worker: total time minus the new node's own package installation "
                   "(journal exec time of its prepare/*packages steps):\n")
        out.append("| N | run | total s | new node's package steps s | beyond packages s |")
        out.append("|---:|---|---:|---:|---:|")
        for r in adds:
            pk = float(re.search(r"newnode-pkg-s:(\S+)", r["extra"]).group(1))
            out.append(f"| {r['size']} | {r['run']} | {r['secs']:.1f} | {pk:.1f} "
                       f"| {r['secs'] - pk:.1f} |")
    if failed:
        out.append("")
        out.append("Failed measurements (not in the medians):\n")
        for r in failed:
            out.append(f"- N={r['size']} run {r['run']} {r['tool']} {r['what']}: exit {r['rc']} "
                       f"after {r['secs']:.1f} s {r['extra']}")
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(required=True)
    s = sub.add_parser("subset")
    s.add_argument("inventory")
    s.add_argument("out")
    s.add_argument("--exclude", action="append", default=[])
    s.set_defaults(fn=cmd_subset)
    s = sub.add_parser("ansible-inventory")
    s.add_argument("inventory")
    s.add_argument("out")
    s.set_defaults(fn=cmd_ansible_inventory)
    s = sub.add_parser("recap")
    s.add_argument("log")
    s.set_defaults(fn=cmd_recap)
    s = sub.add_parser("journal")
    s.add_argument("journal")
    s.set_defaults(fn=cmd_journal)
    s = sub.add_parser("steps-ms")
    s.add_argument("journal")
    s.add_argument("host")
    s.add_argument("prefix", nargs="+")
    s.set_defaults(fn=cmd_steps_ms)
    s = sub.add_parser("summarize")
    s.add_argument("results")
    s.set_defaults(fn=cmd_summarize)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
