"""benchmarks/run_all.py writes one Markdown row per (model, mode, size, batch)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_run_all_quick_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run_all.py"), "--quick", "--models",
                           "csa", "rainnet", "--sizes", "256", "--output", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| csa") or line.startswith("| rainnet")]
    assert [r.split("|")[3].strip() for r in rows] == ["eager", "paddle_inference"] * 2
    for row in rows:
        latency, throughput, rss = (float(c) for c in row.split("|")[6:9])
        assert latency > 0 and throughput > 0 and rss > 100
