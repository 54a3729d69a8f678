"""benchmarks/parse.py keeps working: --json prints the agreed object (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_parse_benchmark_json_output():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/parse.py"),
            "--json",
            "--rounds",
            "1",
            "--seconds",
            "0.01",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    assert report["benchmark"] == "parse"
    for doc in ("create_note", "actor"):
        assert report["figures"][f"{doc}.parse_per_s"] > 0
        assert report["figures"][f"{doc}.json_loads_per_s"] > 0
        assert report["ratios"][f"{doc}.parse_vs_json_loads"] > 0
