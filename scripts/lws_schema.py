#!/usr/bin/env python3
"""Extract the LeaderWorkerSet openAPIV3Schema from the lws CRD and write it as JSON Schema.

Source CRD: kubernetes-sigs/lws  config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml

Usage:
  # from a CRD file
  python lws_schema.py --crd leaderworkerset.x-k8s.io_leaderworkersets.yaml -o leaderworkerset-v1.schema.json
  # straight from a git mirror of kubernetes-sigs/lws (records the commit)
  python lws_schema.py --git-dir /work/.mirror/kubernetes-sigs+lws/repo --rev v0.10.0 -o out.json
  # non-strict (CRD as-is: unknown fields accepted, like the API server before pruning)
  python lws_schema.py ... --no-strict
  # validate manifests against the produced schema
  python lws_schema.py --schema leaderworkerset-v1.schema.json --validate lws.yaml [...]

What the conversion does:
  * picks spec.versions[name == --version].schema.openAPIV3Schema
  * x-kubernetes-int-or-string: controller-gen already emits anyOf:[{type:integer},{type:string}]
    next to it, so nothing is needed; if a node has the marker but no anyOf/type we add that anyOf.
  * x-kubernetes-preserve-unknown-fields: true -> left open (no additionalProperties added).
    (The lws v1 CRD has none.)
  * x-kubernetes-embedded-resource: true -> apiVersion/kind/metadata are implicitly allowed; we add
    them to properties in strict mode. (The lws v1 CRD has none.)
  * strict (default): every object node that has "properties", no "additionalProperties" and no
    x-kubernetes-preserve-unknown-fields gets additionalProperties:false -> unknown / misspelled
    fields are rejected (the API server would silently prune them, or reject with
    kubectl --validate=strict / fieldValidation=Strict).
  * top-level "metadata" is only {type: object} in a CRD; in strict mode it is replaced by a small
    ObjectMeta schema (name/generateName/namespace/labels/annotations/...).
  * other x-kubernetes-* keys are ignored by jsonschema (unknown keywords), formats int32/int64 are
    unknown to jsonschema's format checker and ignored. No $ref anywhere, so Draft7Validator works.
"""
import argparse
import copy
import json
import subprocess
import sys

import yaml

CRD_PATH = "config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml"

OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "selfLink": {"type": "string"},
    },
    "additionalProperties": False,
}


def load_crd(args):
    if args.git_dir:
        text = subprocess.check_output(
            ["git", "--git-dir", args.git_dir, "show", f"{args.rev}:{CRD_PATH}"], text=True)
        commit = subprocess.check_output(
            ["git", "--git-dir", args.git_dir, "rev-parse", f"{args.rev}^{{commit}}"], text=True).strip()
        describe = subprocess.run(
            ["git", "--git-dir", args.git_dir, "describe", "--tags", "--always", commit],
            capture_output=True, text=True).stdout.strip()
        src = f"kubernetes-sigs/lws@{commit} ({describe}) {CRD_PATH}"
    else:
        with open(args.crd) as f:
            text = f.read()
        src = args.source or args.crd
    docs = [d for d in yaml.safe_load_all(text) if d]
    crd = next(d for d in docs if d.get("kind") == "CustomResourceDefinition")
    return crd, src


def convert(node, strict, counters):
    """Recursively rewrite an OpenAPI v3 structural schema into plain JSON Schema."""
    if isinstance(node, list):
        return [convert(n, strict, counters) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v, strict, counters) if k not in ("properties",) else
           {pk: convert(pv, strict, counters) for pk, pv in v.items()}
           for k, v in node.items()}
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out and "type" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        counters["int_or_string_added"] += 1
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if out.get("x-kubernetes-embedded-resource") and strict:
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if strict and "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
        counters["closed_objects"] += 1
    if preserve:
        counters["preserve_unknown"] += 1
    return out


def build(crd, src, version, strict):
    ver = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    raw = ver["schema"]["openAPIV3Schema"]
    counters = {"closed_objects": 0, "preserve_unknown": 0, "int_or_string_added": 0}
    schema = convert(copy.deepcopy(raw), strict, counters)
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    props = schema.setdefault("properties", {})
    props["apiVersion"] = dict(props.get("apiVersion", {}), enum=[f"{group}/{version}"])
    props["kind"] = dict(props.get("kind", {}), enum=[kind])
    if strict:
        props["metadata"] = OBJECT_META
    schema.setdefault("required", [])
    for r in ("apiVersion", "kind", "metadata", "spec"):
        if r not in schema["required"]:
            schema["required"].append(r)
    schema = {"$schema": "http://json-schema.org/draft-07/schema#",
              "$comment": f"{kind} {group}/{version} openAPIV3Schema from {src}; strict={strict}",
              **schema}
    return schema, counters


def validate_files(schema_path, files):
    import jsonschema
    schema = json.load(open(schema_path))
    v = jsonschema.Draft7Validator(schema)
    rc = 0
    for fn in files:
        for i, doc in enumerate(d for d in yaml.safe_load_all(open(fn)) if d):
            if doc.get("kind") != "LeaderWorkerSet":
                continue
            errs = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
            for e in errs:
                rc = 1
                path = ".".join(map(str, e.absolute_path)) or "$"
                print(f"{fn}[{i}]: {path}: {e.message}")
            if not errs:
                print(f"{fn}[{i}]: ok")
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crd", help="CRD yaml file")
    ap.add_argument("--source", help="provenance string to record when using --crd")
    ap.add_argument("--git-dir", help="git dir of a kubernetes-sigs/lws mirror")
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--version", default="v1")
    ap.add_argument("--no-strict", dest="strict", action="store_false")
    ap.add_argument("-o", "--out", default="-")
    ap.add_argument("--schema", help="with --validate: schema JSON to use")
    ap.add_argument("--validate", nargs="*", help="manifest files to validate")
    args = ap.parse_args()
    if args.validate is not None:
        sys.exit(validate_files(args.schema, args.validate))
    if not (args.crd or args.git_dir):
        ap.error("need --crd or --git-dir")
    crd, src = load_crd(args)
    schema, counters = build(crd, src, args.version, args.strict)
    text = json.dumps(schema, separators=(",", ":"), sort_keys=False) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    print(f"source: {src}\nbytes: {len(text)}  {counters}", file=sys.stderr)


if __name__ == "__main__":
    main()
