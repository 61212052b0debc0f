#!/usr/bin/env python3
"""Classify rendered YAML files by what they are, for scripts/validate-manifests.

  scripts/classify-yaml.py FILE...

Prints one line per file:
  kubernetes FILE   every document is a Kubernetes object (apiVersion and kind): the caller
                    validates it with kubernetes-validate or the strict field check;
  checked FILE: W   a known non-Kubernetes file, checked here (W says against what);
  ERROR FILE: ...   a file that cannot be parsed, classified or that failed its check.
Exits 1 when any line is an ERROR: YAML nobody can classify is not passed unchecked.
Needs PyYAML.
"""
import os
import sys

import yaml

# crictl's configuration file (/etc/crictl.yaml): the keys `crictl config` knows
# (cri-tools cmd/crictl/config.go).
CRICTL_KEYS = {
    'runtime-endpoint', 'image-endpoint', 'timeout', 'debug', 'pull-image-on-create',
    'disable-pull-on-run',
}
CRICTL_TYPES = {
    'runtime-endpoint': str, 'image-endpoint': str, 'timeout': int, 'debug': bool,
    'pull-image-on-create': bool, 'disable-pull-on-run': bool,
}


def is_kubernetes(docs):
    return bool(docs) and all(
        isinstance(d, dict) and isinstance(d.get('apiVersion'), str) and isinstance(d.get('kind'), str)
        for d in docs)


def check_crictl(docs):
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return ['crictl config must be one mapping']
    errors = []
    for key, value in docs[0].items():
        if key not in CRICTL_KEYS:
            errors.append(f'crictl config: unknown key {key!r} (known: {", ".join(sorted(CRICTL_KEYS))})')
        elif not isinstance(value, CRICTL_TYPES[key]):
            errors.append(f'crictl config: {key} must be {CRICTL_TYPES[key].__name__}, got {value!r}')
    for key in ('runtime-endpoint', 'image-endpoint'):
        value = docs[0].get(key)
        if isinstance(value, str) and not value.startswith('unix://'):
            errors.append(f'crictl config: {key} {value!r} is not a unix:// socket')
    return errors


def classify(path):
    """(kind, detail): kind is 'kubernetes', 'checked' or 'error'."""
    try:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        return 'error', f'not valid YAML: {e}'.replace('\n', ' ')
    if is_kubernetes(docs):
        return 'kubernetes', ''
    if os.path.basename(path) == 'crictl.yaml':
        errors = check_crictl(docs)
        if errors:
            return 'error', '; '.join(errors)
        return 'checked', 'crictl config keys and types'
    return 'error', ('cannot classify: not a Kubernetes object (a document lacks apiVersion/kind) '
                     'and not a configuration file this script knows; nothing checked it')


def main():
    failed = False
    for path in sys.argv[1:]:
        kind, detail = classify(path)
        if kind == 'kubernetes':
            print(f'kubernetes {path}')
        elif kind == 'checked':
            print(f'checked {path}: {detail}')
        else:
            print(f'ERROR {path}: {detail}')
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
