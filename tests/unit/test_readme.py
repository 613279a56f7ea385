"""README.md is for the user and stays true: its catalog counts match the catalog, it points at nothing outside
the repository, and the two set-up commands stay at the top."""

from __future__ import annotations

import collections
import re
from pathlib import Path

from deploykit.catalog.loader import load_families, load_models, load_profiles

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_counts_match_the_catalog():
    kinds = collections.Counter(p.kind for p in load_profiles().values() if p.variant_of is None)
    m = re.search(r"\*\*(\d+) models\*\* in (\d+) families", README)
    assert m, "README lost the sentence with the model count"
    assert (int(m.group(1)), int(m.group(2))) == (len(load_models()), len(load_families()))
    m = re.search(r"\*\*(\d+) hardware profiles\*\*: (\d+) NVIDIA GPUs, (\d+) Apple\s+chips.*?and (\d+) CPU classes",
                  README, re.S)
    assert m, "README lost the sentence with the profile counts"
    assert [int(g) for g in m.groups()] == [sum(kinds.values()), kinds["nvidia"], kinds["apple"], kinds["cpu"]]
    for nvidia, apple, cpu in re.findall(r"\((\d+) NVIDIA GPUs, (\d+) Apple chips[^,]*, (\d+) CPU\s+classes\)", README):
        assert (int(nvidia), int(apple), int(cpu)) == (kinds["nvidia"], kinds["apple"], kinds["cpu"])


def test_no_references_outside_the_repository_or_internal_notes():
    assert "shared/" not in README and "DESIGN.md" not in README
    assert not re.search(r"\]\(\.\./|`\.\./", README)
    assert "issues stops" not in README and "closing notes" not in README


def test_the_user_comes_first():
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[:2] == ["The two commands", "Install it and the first three commands"]
    top = README.split("## A short tour")[0]
    assert top.index("bash scripts/run.sh") < top.index("bash scripts/test.sh") < top.index("pip install")
