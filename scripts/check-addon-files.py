#!/usr/bin/env python3
"""Account for every file of rendered addons, for scripts/validate-addons.

  scripts/check-addon-files.py ADDON_DIR...

ADDON_DIR holds manifest.yaml and files/ (as `otp-provision render --out` and the addon snapshot
test write them). For each addon:
  - every configuration file that the manifest's ConfigMaps carry must be in files/ with the same
    text, so the file that is checked is the one that is deployed;
  - every file in files/ is either checked here (Fluent Bit's YAML sections and plugins, the
    OpenSearch security files' _meta, OpenSearch/Dashboards settings as flat mappings) or named
    for a tool the caller runs (`tool promtool FILE`, `tool amtool FILE`);
  - any other file is an ERROR: nothing would check it.
Prints one line per file (`checked FILE: what`, `tool NAME FILE`, `ERROR FILE: why`); exits 1 on
any ERROR. Needs PyYAML.
"""
import os
import sys

import yaml

TOOLS = {'prometheus.yml': 'promtool', 'rules.yml': 'promtool', 'alertmanager.yml': 'amtool'}

# Fluent Bit's YAML configuration (docs: "YAML configuration file"): top-level sections and
# the pipeline's plugin lists.
FLUENT_BIT_SECTIONS = {'service', 'pipeline', 'parsers', 'multiline_parsers', 'includes', 'env',
                       'customs', 'plugins', 'upstream_servers'}
FLUENT_BIT_PIPELINE = {'inputs', 'filters', 'outputs'}

# OpenSearch security plugin files and the _meta.type each must declare.
SECURITY_TYPES = {'internal_users.yml': 'internalusers', 'roles.yml': 'roles',
                  'roles_mapping.yml': 'rolesmapping', 'security-config.yml': 'config',
                  'action_groups.yml': 'actiongroups', 'tenants.yml': 'tenants',
                  'nodes_dn.yml': 'nodesdn', 'whitelist.yml': 'whitelist',
                  'allowlist.yml': 'allowlist', 'audit.yml': 'audit'}
# Settings files: flat `dotted.key: scalar or list of scalars`.
SETTINGS = {'opensearch.yml', 'opensearch_dashboards.yml'}
# ConfigMap keys whose file in files/ has another name (the in-pod name is ambiguous there).
FILE_FOR_KEY = {'otp-provision.yml': 'rules.yml', 'config.yml': 'security-config.yml'}


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def check_fluent_bit(docs):
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return ['Fluent Bit config must be one mapping']
    cfg = docs[0]
    errors = [f'unknown top-level section {k!r}' for k in cfg if k not in FLUENT_BIT_SECTIONS]
    pipeline = cfg.get('pipeline')
    if not isinstance(pipeline, dict) or not pipeline.get('inputs') or not pipeline.get('outputs'):
        errors.append('pipeline needs inputs and outputs')
    else:
        errors += [f'unknown pipeline section {k!r}' for k in pipeline if k not in FLUENT_BIT_PIPELINE]
        for section in FLUENT_BIT_PIPELINE & set(pipeline):
            for i, plugin in enumerate(pipeline[section] or []):
                if not isinstance(plugin, dict) or not isinstance(plugin.get('name'), str):
                    errors.append(f'pipeline.{section}[{i}] has no plugin name')
    for section in ('parsers', 'multiline_parsers'):
        for i, p in enumerate(cfg.get(section) or []):
            if not isinstance(p, dict) or not isinstance(p.get('name'), str):
                errors.append(f'{section}[{i}] has no name')
    return errors


def check_security(name, docs):
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return [f'{name} must be one mapping']
    meta = docs[0].get('_meta')
    want = SECURITY_TYPES[name]
    if not isinstance(meta, dict) or meta.get('type') != want or meta.get('config_version') != 2:
        return [f'_meta must be {{type: {want}, config_version: 2}}, got {meta!r}']
    return []


def check_settings(docs):
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return ['settings must be one mapping']
    scalar = (str, int, float, bool)
    return [f'{k}: expected a scalar or a list of scalars, got {v!r}' for k, v in docs[0].items()
            if not (isinstance(v, scalar) or (isinstance(v, list) and all(isinstance(x, scalar) for x in v)))]


def configmap_files(manifest):
    """{key: text} of every ConfigMap data entry that looks like a configuration file."""
    out = {}
    for doc in load(manifest):
        if isinstance(doc, dict) and doc.get('kind') == 'ConfigMap':
            for key, text in (doc.get('data') or {}).items():
                if key.endswith(('.yml', '.yaml')):
                    out[key] = (doc['metadata']['name'], text)
    return out


def check_addon(d):
    lines = []
    manifest = os.path.join(d, 'manifest.yaml')
    files = os.path.join(d, 'files')
    if not os.path.isfile(manifest):
        return [f'ERROR {d}: no manifest.yaml']
    present = sorted(os.listdir(files)) if os.path.isdir(files) else []
    for key, (cm, text) in sorted(configmap_files(manifest).items()):
        name = FILE_FOR_KEY.get(key, key)
        if name not in present:
            lines.append(f'ERROR {manifest}: ConfigMap {cm} carries {key} but files/{name} is missing, '
                         f'so {key} would go unchecked')
        elif open(os.path.join(files, name)).read() != text:
            lines.append(f'ERROR {files}/{name}: differs from ConfigMap {cm}\'s {key} (the checked file '
                         f'must be the deployed one)')
    for name in present:
        path = os.path.join(files, name)
        if name in TOOLS:
            lines.append(f'tool {TOOLS[name]} {path}')
            continue
        try:
            docs = load(path)
        except yaml.YAMLError as e:
            lines.append(f'ERROR {path}: not valid YAML: {e}'.replace('\n', ' '))
            continue
        if name == 'fluent-bit.yaml':
            errors, what = check_fluent_bit(docs), 'Fluent Bit sections and plugins'
        elif name in SECURITY_TYPES:
            errors, what = check_security(name, docs), 'OpenSearch security _meta'
        elif name in SETTINGS:
            errors, what = check_settings(docs), 'flat settings mapping'
        else:
            lines.append(f'ERROR {path}: unknown addon file; nothing checks it')
            continue
        lines += [f'ERROR {path}: {e}' for e in errors] or [f'checked {path}: {what}']
    return lines


def main():
    failed = False
    for d in sys.argv[1:]:
        for line in check_addon(d.rstrip('/')):
            print(line)
            failed = failed or line.startswith('ERROR')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
