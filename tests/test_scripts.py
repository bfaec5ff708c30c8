"""Benchmark scripts that read ../shared skip cleanly, with a message, when their inputs are absent."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["bench_uit_vsfc.py", "compare_neural_uit_vsfc.py", "compare_network_settings_uit_vsfc.py",
                                    "compare_solvers_uit_vsfc.py"])
def test_uit_scripts_skip_without_the_data(script, tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("skipped: ")
    assert "UIT-VSFC not found" in done.stdout or "PyTorch is not installed" in done.stdout
