use super::*;
use crate::inventory::testutil::inventory;

fn books() -> Playbooks {
    Playbooks::embedded().expect("embedded playbooks load")
}

#[test]
fn embedded_playbooks_and_templates_load() {
    let b = books();
    let names: Vec<&str> = b.books.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(names, ["prepare.toml", "endpoint.toml"]);
    assert_eq!(b.books[0].phase, "prepare");
    assert!(b.templates.contains_key("containerd-config.toml"));
    // Every playbook file in the repository is embedded (a new file must be added to the list).
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(on_disk, names.iter().map(|s| s.to_string()).collect());
    // Sub-directories hold the cluster phases' templates (phases::cluster::render embeds them).
    let tdir: BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(tdir, b.templates.keys().cloned().collect());
}

#[test]
fn invalid_playbooks_table() {
    // (text, expected error)
    let cases = [
        ("description = \"x\"\n", "t.toml:1:1: missing field `phase`"),
        ("phase = \"a b\"\n", "phase \"a b\" must be letters"),
        (
            "phase = \"p\"\nbogus = 1\n",
            "t.toml:2:1: unknown field `bogus`",
        ),
        ("phase = \"p\"\n[[step]\n", "t.toml:2:"),
        (
            "phase = \"p\"\n[[step]]\nkind = \"teleport\"\n",
            "t.toml: step 1: unknown variant `teleport`",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"swap\"\noff = true\ncolour = \"red\"\n",
            "t.toml: step 1: unknown field `colour`",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"swap\"\noff = false\n",
            "only `off = true`",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"file\"\npath = \"/x\"\n",
            "exactly one of `template` or `content`",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"file\"\npath = \"/x\"\ncontent = \"\"\nmode = \"rw\"\n",
            "mode \"rw\" is not octal",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"swap\"\noff = true\nroles = [\"master\"]\n",
            "unknown role \"master\"",
        ),
        (
            "phase = \"p\"\n[[step]]\nid = \"a\"\nkind = \"swap\"\noff = true\n[[step]]\nid = \"a\"\nkind = \"swap\"\noff = true\n",
            "t.toml: step 2: duplicate id \"a\"",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"service\"\nname = \"x\"\n",
            "needs `enabled` and/or `state`",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"command\"\nrun = \"true\"\n",
            "missing field `unless`",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"package\"\nnames = []\n",
            "names is empty",
        ),
        (
            "phase = \"p\"\n[[step]]\nkind = \"swap\"\noff = true\nwhen = 3\n",
            "`when` must be a string",
        ),
    ];
    for (text, want) in cases {
        let e = parse_playbook("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e:?} !~ {want:?}");
    }
}

#[test]
fn override_dir_replaces_and_adds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prepare.toml"),
        "phase = \"prepare\"\n[[step]]\nid = \"swap\"\nkind = \"swap\"\noff = true\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("zz-site.toml"),
        "phase = \"site\"\n[[step]]\nkind = \"file\"\npath = \"/etc/motd\"\ntemplate = \"motd\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "ignored").unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/motd"),
        "{{ host.name }} of {{ cluster.name }}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("templates/crictl.yaml"), "replaced\n").unwrap();
    let b = Playbooks::load(Some(dir.path())).unwrap();
    let names: Vec<&str> = b.books.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(names, ["prepare.toml", "endpoint.toml", "zz-site.toml"]);
    assert_eq!(b.books[0].steps.len(), 1);
    assert_eq!(b.templates["crictl.yaml"], "replaced\n");

    let inv = inventory();
    let (ctx, _) = context::context(&inv, &inv.hosts[0], None);
    assert_eq!(b.renderer(ctx).template("motd").unwrap(), "cp1 of prod\n");

    // A step naming a template that exists nowhere fails at load, naming file and step.
    std::fs::write(
        dir.path().join("zz-site.toml"),
        "phase = \"site\"\n[[step]]\nkind = \"file\"\npath = \"/etc/motd\"\ntemplate = \"nope\"\n",
    )
    .unwrap();
    let e = Playbooks::load(Some(dir.path())).unwrap_err().to_string();
    assert_eq!(
        e,
        "zz-site.toml: step 1: template \"nope\" not found under templates/"
    );
}

#[test]
fn strict_undefined_and_filters() {
    let inv = inventory();
    let (ctx, _) = context::context(&inv, &inv.hosts[0], None);
    let mut r = books().renderer(ctx);
    let e = r.string("{{ no_such_value }}").unwrap_err();
    assert!(
        e.contains("Variable `no_such_value` not found in context"),
        "{e}"
    );
    let e = r.string("{{ host.nope }}").unwrap_err();
    assert!(e.contains("host.nope"), "{e}");
    assert_eq!(
        r.string("plain {not a template}").unwrap(),
        "plain {not a template}"
    );
    assert_eq!(
        r.string("{{ \"it's $(x)\" | q }}").unwrap(),
        "'it'\\''s $(x)'"
    );
    assert_eq!(r.string("{{ kube_version }}-*").unwrap(), "1.33.4-*");
    assert_eq!(
        r.string("{{ pause_image }}").unwrap(),
        "registry.k8s.io/pause:3.10"
    );
    assert!(r.condition("\"control-plane\" in roles").unwrap());
    assert!(!r.condition("host.is_load_balancer").unwrap());
    assert!(
        r.condition("endpoint.mode == \"haproxy-keepalived\" and os.family == \"debian\"")
            .unwrap()
    );
    assert!(r.condition("broken ==").is_err());
}

#[test]
fn context_without_facts_reports_missing_values() {
    let inv = inventory();
    let lb = inv.host("lb2").unwrap();
    let (ctx, notes) = context::context(&inv, lb, None);
    let notes: Vec<String> = notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "lb2: os.codename unknown without facts (Debian release name, needed by the Debian mirror sources)",
            "lb2: endpoint.interface unknown without facts (set cluster.endpoint.interface in the inventory)",
        ]
    );
    let v = ctx.into_json();
    assert_eq!(v["endpoint"]["interface"], "MISSING(endpoint.interface)");
    assert_eq!(v["lb"]["state"], "BACKUP");
    assert_eq!(v["lb"]["priority"], 99);
    assert_eq!(
        v["packages"]["kubernetes_repo"],
        "http://10.0.0.5:8080/kubernetes/v1.33/deb/"
    );
    // The first load balancer holds the VIP.
    let (ctx, _) = context::context(&inv, inv.host("lb1").unwrap(), None);
    assert_eq!(ctx.into_json()["lb"]["state"], "MASTER");
}

#[test]
fn pause_image_table() {
    for (v, want) in [
        ("1.30.2", "registry.k8s.io/pause:3.9"),
        ("1.31.0", "registry.k8s.io/pause:3.10"),
        ("1.33.4", "registry.k8s.io/pause:3.10"),
        ("1.34.1", "registry.k8s.io/pause:3.10.1"),
    ] {
        assert_eq!(context::pause_image(v), want, "{v}");
    }
}
