"""The data folders ship inside the wheel: an install away from the repo still finds the catalogs."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True)
    return next(out.glob("deploykit-*.whl"))


def test_wheel_holds_the_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("model_catalog", "hardware_profiles"):
        shipped = {n for n in names if n.startswith(f"deploykit/_data/{folder}/")}
        on_disk = {f"deploykit/_data/{folder}/{p.name}" for p in (ROOT / folder).glob("*.yaml")}
        assert on_disk and on_disk <= shipped
    assert "deploykit/_data/data/engines.yaml" in names


def test_installed_wheel_runs_outside_the_repo(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    code = ("import deploykit.paths as p, deploykit.catalog.loader as l; "
            "print(p.data_dir('model_catalog')); print(len(l.load_models()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out[0].startswith(str(target)) and int(out[1]) >= 40
