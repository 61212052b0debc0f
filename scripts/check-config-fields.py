#!/usr/bin/env python3
"""Strict field check for config kinds kubernetes-validate has no schema for.

  scripts/check-config-fields.py FILE...

Every YAML document whose apiVersion/kind is in scripts/config-schemas.json is walked and any
field the API type does not define is reported as FILE: Kind: path.to.field. Embedded configs
(AdmissionConfiguration plugins) are checked as their own kind. Prints one `checked` line per
document, `unknown-kind` for documents it cannot check; exits 1 on any unknown field.
Needs PyYAML.
"""
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = json.load(open(os.path.join(HERE, 'config-schemas.json')))


def schema_for(doc):
    if not isinstance(doc, dict):
        return None
    return SCHEMAS.get(str(doc.get('apiVersion')), {}).get(str(doc.get('kind')))


def walk(node, schema, path, errors):
    if schema is None:
        # Free-form field; an embedded object with a known kind is still checked.
        if schema_for(node) is not None:
            walk(node, schema_for(node), path, errors)
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            walk(item, schema, f'{path}[{i}]', errors)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in schema:
                errors.append(f'{path}.{key}' if path else str(key))
            else:
                walk(value, schema[key], f'{path}.{key}' if path else str(key), errors)
    elif node is not None:
        errors.append(f'{path}: expected an object, got {type(node).__name__}')


def main():
    failed = False
    for name in sys.argv[1:]:
        with open(name) as f:
            docs = list(yaml.safe_load_all(f))
        for doc in docs:
            if doc is None:
                continue
            kind = f"{doc.get('apiVersion')} {doc.get('kind')}"
            schema = schema_for(doc)
            if schema is None:
                print(f'unknown-kind {name}: {kind}')
                continue
            errors = []
            walk(doc, schema, '', errors)
            for e in errors:
                print(f'ERROR {name}: {kind}: unknown field {e}')
            failed = failed or bool(errors)
            if not errors:
                print(f'checked {name}: {kind}')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
