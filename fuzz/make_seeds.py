#!/usr/bin/env python3
"""Writes the starting seeds of every target into seeds/<target>/ from the
repository's vectors (run from fuzz/). The committed corpus/<target>/ is
these seeds plus what AFL found, minimized with `cargo afl cmin`."""
import json, os, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"


def write(target, name, data):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


# framer_messages: two header bytes (max line length, chunk size), then a stream.
dialects = sorted((ROOT / "vectors/miner-dialects").glob("*.jsonl"))
for path in dialects:
    lines = [json.loads(row)["line"] for row in path.read_text().splitlines() if row.strip()]
    lines = [line for line in lines if line]
    stream = "".join(line + "\n" for line in lines).encode()
    write("framer_messages", f"{path.stem}-default", b"\x00\xff" + stream)
    # Short maximum (64 bytes) and 7-byte chunks: over-long lines and split lines.
    write("framer_messages", f"{path.stem}-short", b"\x9f\x06" + stream.replace(b"\n", b"\r\n"))
    for index, line in enumerate(lines):
        write("framer_messages", f"{path.stem}-{index:02}", b"\x00\xff" + line.encode() + b"\n")

# config: TOML, then NUL-separated NAME=value environment variables.
example = (ROOT / "pool.example.toml").read_bytes()
write("config", "example", example)
write("config", "example-env", example + b"\0POOL_STRATUM_START_DIFFICULTY=2048\0POOL_POOL_MODE=solo"
      b"\0POOL_BITCOIND_1_URL=http://10.0.0.4:18443\0POOL_BITCOIND_1_COOKIE=/tmp/.cookie")
write("config", "simnet", b"[chain]\nsource = \"simnet\"\n")
write("config", "simnet-env", b"\0POOL_CHAIN_SOURCE=simnet\0POOL_STRATUM_LISTEN=127.0.0.1:3334"
      b"\0POOL_POOL_TAG=\"/x/\"\0POOL_BITCOIND_ZMQ=")
write("config", "small", b"[pool]\nfee_percent = 1.25\ntag = '/mine/'\n[stratum]\nmin_difficulty = 0.5\n"
      b"max_difficulty = 65536\n[chain]\nsource = \"simnet\"\n[alerts]\nwebhooks = [\"https://example.com/h\"]\n")

# template: getblocktemplate answers of Bitcoin Core, compact; the big one trimmed.
for path in sorted(ROOT.glob("vectors/gbt-*.json")):
    gbt = json.loads(path.read_text())
    gbt["transactions"] = gbt["transactions"][:3]
    write("template", path.stem, json.dumps(gbt, separators=(",", ":")).encode())
