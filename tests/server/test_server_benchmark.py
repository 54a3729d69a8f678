"""benchmarks/inbox.py keeps working: --json prints the agreed object (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_inbox_benchmark_json_output():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/inbox.py"),
            "--json",
            "--count",
            "20",
            "--seconds",
            "0.05",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    assert report["benchmark"] == "inbox"
    assert set(report["figures"]) == {
        "accepted_per_s_memory_queue",
        "accepted_per_s_sqlite_queue",
        "raw_http_202_per_s",
        "rsa_verify_per_s",
    }
    assert all(value > 0 for value in report["figures"].values())
    assert set(report["ratios"]) == {
        "memory_vs_rsa_verify",
        "memory_vs_raw_http",
        "sqlite_vs_memory",
    }
