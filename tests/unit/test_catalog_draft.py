"""scripts/catalog_draft.py (deploykit.catalog.draft): a draft derives what the files say, refuses to validate until a
person fills the TODO fields, and once filled passes the same checks as every catalog entry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploykit.catalog.draft import draft_for
from deploykit.catalog.loader import get_model, validate_file
from deploykit.catalog.params import count_params
from deploykit.catalog.schema import ModelFamily
from deploykit.errors import DataError

from test_gguf import LLAMA, gguf_bytes

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "hf_configs"
# A made-up index total (not gpt-oss's real one): only its arithmetic is checked.
SYNTHETIC_TOTAL = 65_000_000_000


@pytest.fixture
def gpt_oss_dir(tmp_path: Path) -> Path:
    d = tmp_path / "gpt-oss-120b"
    d.mkdir()
    shutil.copy(CONFIGS / "gpt-oss-120b.json", d / "config.json")
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": SYNTHETIC_TOTAL},
                                                                "weight_map": {}}))
    return d


def test_draft_lists_what_it_derived_and_what_it_could_not(gpt_oss_dir):
    draft = draft_for(str(gpt_oss_dir))
    text = draft.to_yaml(str(gpt_oss_dir))
    assert "native_dtype mxfp4, quantized_layers experts" in text
    assert "65.0 GB" in text and "model.safetensors.index.json metadata.total_size" in text
    assert "licence" not in draft.derived and any("license" in t for t in draft.todo)
    entry = yaml.safe_load(text)["models"][0]
    assert (entry["native_dtype"], entry["quantized_layers"]) == ("mxfp4", "experts")
    assert entry["params_total_b"] == pytest.approx(116.789, abs=0.001)


def test_an_unfilled_draft_is_rejected_naming_the_fields(gpt_oss_dir, tmp_path):
    path = tmp_path / "todo.yaml"
    path.write_text(draft_for(str(gpt_oss_dir)).to_yaml("x"))
    with pytest.raises(DataError) as err:
        validate_file(path, ModelFamily)
    for name in ("family", "origin_country", "license.url", "params_source", "hf_repo"):
        assert name in err.value.message


def test_a_filled_draft_validates_and_matches_the_catalog_entry(gpt_oss_dir, tmp_path):
    data = yaml.safe_load(draft_for(str(gpt_oss_dir)).to_yaml("x"))
    catalog = get_model("gpt-oss-120b")
    data.update(family="gpt-oss", display_name="OpenAI gpt-oss", origin="OpenAI", origin_country="US",
                license_source=catalog.license.url, license=catalog.license.model_dump())
    entry = data["models"][0]
    entry.update(hf_repo=catalog.hf_repo, params_total_b=116.8, params_active_b=5.1,
                 params_active_excludes="input-embedding", params_source=catalog.params_source)
    entry["architecture"]["source"] = catalog.architecture.source
    path = tmp_path / "gpt-oss.yaml"
    path.write_text(yaml.safe_dump(data))
    family = validate_file(path, ModelFamily)
    model = family.models[0]
    assert model.architecture == catalog.architecture
    counted = count_params(model.architecture)
    embedding = model.architecture.vocab_size * model.architecture.hidden_size
    assert counted.total / 1e9 == pytest.approx(model.params_total_b, rel=0.05)
    assert (counted.active - embedding) / 1e9 == pytest.approx(model.params_active_b, rel=0.10)


def test_gguf_file_draft_names_its_size_and_asks_for_the_source_format(tmp_path):
    path = tmp_path / "mini-llama.Q4_K_M.gguf"
    path.write_bytes(gguf_bytes(LLAMA, tokens=5))
    draft = draft_for(str(path))
    assert any("file size" in d for d in draft.derived)
    assert any("native_dtype" in t for t in draft.todo)
    assert draft.family["models"][0]["architecture"]["num_layers"] == 4


def test_script_exit_codes(gpt_oss_dir, tmp_path):
    out = tmp_path / "draft.yaml"
    ok = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalog_draft.py"), str(gpt_oss_dir), "-o", str(out)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "TODO" in out.read_text()
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalog_draft.py"), str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert bad.returncode == 4 and "fix:" in bad.stderr
