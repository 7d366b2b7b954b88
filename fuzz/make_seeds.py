#!/usr/bin/env python3
"""Writes the starting seeds of every target into seeds/<target>/ from the
repository's vectors (run from fuzz/). The committed corpus/<target>/ is
these seeds plus what AFL found, minimized with `cargo afl cmin`."""
import ipaddress, json, os, pathlib

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

# session: a miner's lines and the world's events (see pool/src/fuzzing/session.rs):
# $J/$K are the newest/previous job ids sent, $T the newest ntime, $E the last
# connection's extranonce1; `!` lines move the clock, the chain, the connection.
ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def submit(id_, nonce, job="$J", extranonce2="0000000000000001", worker=f"{ADDRESS}.rig", bits=None):
    params = [worker, job, extranonce2, "$T", nonce] + ([bits] if bits else [])
    return json.dumps({"id": id_, "method": "mining.submit", "params": params})


for path in dialects:
    lines = []
    for row in path.read_text().splitlines():
        if not row.strip():
            continue
        row = json.loads(row)
        if row.get("dir") != "client->pool" or not row["line"]:
            continue
        message = json.loads(row["line"]) if row["line"].startswith("{") else None
        if message and message.get("method") == "mining.authorize":
            message["params"][0] = ADDRESS + "." + path.stem
        if message and message.get("method") == "mining.submit":
            message["params"][0] = ADDRESS + "." + path.stem
            message["params"][1] = "$J"
            message["params"][3] = "$T"
        lines.append(json.dumps(message) if message else row["line"])
    write("session", f"dialect-{path.stem}", ("\n".join(lines) + "\n!wait\n").encode())

handshake = [
    json.dumps({"id": 1, "method": "mining.subscribe", "params": ["fuzz/1.0"]}),
    json.dumps({"id": 2, "method": "mining.authorize", "params": [f"{ADDRESS}.rig", "x"]}),
]
shares = [submit(10 + n, f"{n:08x}") for n in range(9)]
# The replay of issue 10: the same work under the id a suggestion brings.
write("session", "replay-after-suggestion", "\n".join(
    handshake + shares + ["!wait", json.dumps({"id": 30, "method": "mining.suggest_difficulty", "params": [1e-13]})]
    + [submit(40 + n, f"{n:08x}") for n in range(9)] + ["!wait"]).encode() + b"\n")
# Vardiff raises the difficulty after a burst; the old job's shares again.
write("session", "replay-after-retarget", "\n".join(
    handshake + [submit(10 + n, f"{n:08x}") for n in range(40)] + ["!tick 30", "!wait"]
    + [submit(60 + n, f"{n:08x}", job="$K") for n in range(5)]
    + [submit(70 + n, f"{n:08x}") for n in range(5)] + ["!wait"]).encode() + b"\n")
# A racing repeat, a clean reissue, a new block, a stale share.
write("session", "race-refresh-block", "\n".join(
    handshake + [submit(10, "00000001"), submit(11, "00000001"), "!refresh", submit(12, "00000001"),
                 submit(13, "00000002"), "!block", submit(14, "00000003", job="$K"), submit(15, "00000003"),
                 "!wait"]).encode() + b"\n")
# A second connection resumes its extranonce1 and repeats its shares.
write("session", "reconnect-resume", "\n".join(
    handshake + shares[:3] + ["!wait", "!conn",
                              json.dumps({"id": 1, "method": "mining.subscribe", "params": ["fuzz/1.0", "$E"]}),
                              handshake[1]] + shares[:3] + ["!wait"]).encode() + b"\n")
# Every share a block: the same solution twice, one on a reissued job.
write("session", "easy-blocks", "\n".join(
    ["!easy"] + handshake + [submit(10 + n, f"{n:08x}") for n in range(6)]
    + [submit(20, "00000000"), json.dumps({"id": 21, "method": "mining.suggest_difficulty", "params": [1e-11]}),
       submit(22, "00000000"), submit(23, "00000001"), "!wait"]).encode() + b"\n")
write("session", "solo-easy", "\n".join(
    ["!mode solo", "!easy"] + handshake + [submit(10 + n, f"{n:08x}") for n in range(4)] + ["!wait"]).encode() + b"\n")
write("session", "pps-version-rolling", "\n".join(
    ["!mode pps",
     json.dumps({"id": 0, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]})]
    + handshake + [submit(10 + n, f"{n:08x}", bits="00002000") for n in range(4)] + ["!wait"]).encode() + b"\n")
# A miner that stops reading while submitting: back-pressure, then it reads.
write("session", "deaf-flood", "\n".join(
    handshake + ["!deaf"] + [submit(100 + n, f"{n:08x}") for n in range(150)] + ["!deaf", "!wait"]).encode() + b"\n")
# New blocks and fee refreshes while the miner reads nothing: one waiting
# job, replaced by each newer one (still clean: blocks were replaced); when
# it reads again it gets the newest, not a backlog.
extranonce_subscribe = json.dumps({"id": 7, "method": "mining.extranonce.subscribe", "params": []})
write("session", "deaf-burst", "\n".join(
    handshake + ["!deaf", extranonce_subscribe, "!block", "!refresh", "!block", "!refresh", "!block", "!deaf", "!wait"]).encode() + b"\n")
# The same miner never reads again: dropped once its work waited too long.
write("session", "deaf-stall", "\n".join(
    handshake + ["!deaf", extranonce_subscribe] + ["!block"] * 3 + ["!tick 14"]).encode() + b"\n")
# Junk, unknown jobs, too many workers, silence until the timeouts.
write("session", "junk-workers-timeouts", "\n".join(
    handshake + ["{\"id\":", "not json", json.dumps({"id": 3, "method": "mining.nope", "params": []}),
                 submit(4, "00000001", job="deadbeef"), submit(5, "zz")]
    + [json.dumps({"id": 50 + n, "method": "mining.authorize", "params": [f"{ADDRESS}.w{n}", "x"]}) for n in range(12)]
    + [submit(None, "00000009"), "!tick 700", "!tick 600"]).encode() + b"\n")
write("session", "partial-line", b"\n".join(h.encode() for h in handshake) + b"\n{\"id\":9,\"method\":\"mining.sub")

# proxy_header: byte 0 the chunk size (0: all at once), then a connection's
# first bytes: a header as balancers send it, then the miner's first line.
SUBSCRIBE = b'{"id":1,"method":"mining.subscribe","params":[]}\n'


def v2(command, family, block):
    return b"\r\n\r\n\0\r\nQUIT\n" + bytes([0x20 | command, family]) + len(block).to_bytes(2, "big") + block


def tlv(kind, value):
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def tcp_block(source, destination, source_port, destination_port):
    return (ipaddress.ip_address(source).packed + ipaddress.ip_address(destination).packed
            + source_port.to_bytes(2, "big") + destination_port.to_bytes(2, "big"))


FFFF = ":".join(["ffff"] * 8)
proxy_headers = {
    "v1-tcp4": b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 3333\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-unknown-longest": f"PROXY UNKNOWN {FFFF} {FFFF} 65535 65535\r\n".encode(),
    "v2-tcp4": v2(1, 0x11, tcp_block("192.168.0.1", "192.168.0.11", 56324, 443)),
    "v2-tcp6-tlvs": v2(1, 0x21, tcp_block("2001:db8::7", "2001:db8::1", 40000, 3333)
                       + tlv(0xEA, b"\x01vpce-08d2bf15fac5001c9") + tlv(0x04, b"")),
    "v2-local": v2(0, 0x00, b""),
    "v2-unix-stream": v2(1, 0x31, b"/" * 216),
}
for name, header in proxy_headers.items():
    write("proxy_header", name, b"\x00" + header + SUBSCRIBE)
    write("proxy_header", f"{name}-bytewise", b"\x01" + header + SUBSCRIBE)
write("proxy_header", "stratum-without-header", b"\x00" + SUBSCRIBE)
