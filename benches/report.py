#!/usr/bin/env python3
"""Turns criterion's results into the tables of BENCHMARKS.md.

Run after `cargo bench -p benches`: reads target/criterion/**/new/, prints
nanoseconds per element (median) and each row's ratio against the baseline
measured in the same benchmark process (the sha2 crate, or the cold share
path for the share group).
"""

import json
import os
import pathlib
import sys

TARGET = os.environ.get("CARGO_TARGET_DIR") or pathlib.Path(__file__).resolve().parent.parent / "target"
ROOT = pathlib.Path(TARGET) / "criterion"

# group -> {row name: baseline row name}; rows not listed use "sha2".
BASELINES = {
    "header": lambda row: "sha2-batch" if row.startswith("batch") or row == "sha2-batch" else "sha2",
    "merkle-node": lambda row: "sha2-batch" if row.startswith("batch") or row == "sha2-batch" else "sha2",
    "coinbase-250": lambda row: "sha2",
    "share": lambda row: "cold/" + row.split("/", 1)[1],
    "record_2000_shares": lambda row: "plain_insert",
}

SPEEDUP_WORDS = {
    "share": "× the cold path",
    "record_2000_shares": "× the plain insert's speed",
}


def baseline_rule(group):
    """Stats groups are named by their share count: stats_<n>_shares."""
    if group.startswith("stats_"):
        return (lambda row: "shares_scan/" + row.split("/", 1)[1]), "× the scan of shares"
    return BASELINES.get(group, lambda row: "sha2"), SPEEDUP_WORDS.get(group, "× the sha2 crate")


def load():
    groups = {}
    for bench in sorted(ROOT.glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        elements = (meta.get("throughput") or {}).get("Elements", 1)
        row = meta["function_id"] + ("/" + meta["value_str"] if meta.get("value_str") else "")
        groups.setdefault(meta["group_id"], {})[row] = estimates["median"]["point_estimate"] / elements
    return groups


def main():
    groups = load()
    if not groups:
        sys.exit("no criterion results under %s: run `cargo bench -p benches` first" % ROOT)
    for group, rows in groups.items():
        baseline_of, words = baseline_rule(group)
        print(f"\n### {group}\n")
        print("| benchmark | ns per element | per second | speed-up |")
        print("|---|---:|---:|---:|")
        for row, ns in rows.items():
            baseline = rows.get(baseline_of(row))
            ratio = f"{baseline / ns:.2f}{words}" if baseline and baseline_of(row) != row else "baseline"
            print(f"| {row} | {ns:.1f} | {1e9 / ns / 1e6:.2f} M | {ratio} |")


if __name__ == "__main__":
    main()
