#!/usr/bin/env python3
"""Write a model_catalog entry draft for a model: python scripts/catalog_draft.py REPO_OR_DIR [-o FILE].

REPO_OR_DIR: a local model directory (config.json, *.safetensors, model.safetensors.index.json, optional
hf_quant_config.json), a .gguf file, or a Hugging Face repo id (needs the hub, or the config in the local cache).
Every derived figure is listed with the file it came from; what cannot be derived (licence, origin, the card's
parameter counts, gating) is written as TODO values the catalog loader rejects until a person fills them in.
README.md, "Adding a model", has the whole procedure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploykit.catalog.draft import draft_for
from deploykit.errors import DeploykitError, classify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="model directory, .gguf file, or Hugging Face repo id")
    parser.add_argument("--revision", default="main", help="hub revision (repo ids only)")
    parser.add_argument("-o", "--output", type=Path, help="write the draft here instead of stdout")
    args = parser.parse_args(argv)
    try:
        text = draft_for(args.target, args.revision).to_yaml(args.target)
    except DeploykitError as exc:  # the project's one error table gives the exit code
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return classify(exc).exit_code
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output}; fill in the TODO fields, then move it to model_catalog/", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
