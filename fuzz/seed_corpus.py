#!/usr/bin/env python3
"""Seeds each fuzz target's corpus (fuzz/corpus/TARGET/) from the captured spans.

Usage: fuzz/seed_corpus.py REPO_ROOT

Protobuf captures seed otlp_protobuf and recognise as they are; the JSON captures seed
otlp_json after conversion to OTLP/JSON (the capturing sink wrote proto3 JSON: base64
ids, enum names); records built from the protobuf captures seed disk_queue; the config
file seeds config. fuzz/seeds/TARGET/ adds a few hand-made inputs. Re-running only adds.
"""

import base64
import json
import pathlib
import struct
import sys
import zlib

ROOT = pathlib.Path(sys.argv[1]).resolve()
CORPUS = ROOT / "fuzz" / "corpus"
CAPTURE_DIRS = [
    ROOT / "src" / "demo" / "captures",
    ROOT / "tests" / "data" / "captures",
]
SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
IDS = ("traceId", "spanId", "parentSpanId")


def captures(suffix):
    """(name, path) of every capture file with `suffix`, in a stable order."""
    for base in CAPTURE_DIRS:
        if base.is_dir():
            for path in sorted(base.glob(f"*/*{suffix}")):
                yield f"{base.parent.name}-{path.parent.name}-{path.stem}", path


def put(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def otlp_json(value):
    """proto3 JSON (as Python's protobuf writes it) -> OTLP/JSON."""
    if isinstance(value, list):
        return [otlp_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, v in value.items():
        if key in IDS and isinstance(v, str):
            v = base64.b64decode(v).hex()
        elif key == "kind" and isinstance(v, str):
            v = SPAN_KINDS.get(v, 0)
        elif key == "code" and isinstance(v, str):
            v = STATUS_CODES.get(v, 0)
        out[key] = otlp_json(v)
    return out


def record(payload, spans=1):
    """One persistent-queue record (src/export/persistent.rs)."""
    crc = zlib.crc32(payload) & 0xFFFFFFFF
    return b"MCQ1" + struct.pack("<III", len(payload), spans, crc) + payload


def disk_queue_seeds(payloads):
    """Queue directories in the disk_queue target's input layout (see its header)."""
    records = [record(p, i + 1) for i, p in enumerate(payloads)]
    first, rest = b"".join(records[:2]), b"".join(records[2:])
    # One segment, no ack, generous batches.
    yield "one-segment", bytes([0b00, 8, 255, 1]) + b"".join(records)
    # Two segments, an ack past the first record, small batches, a torn last write.
    torn = records[-1][: len(records[-1]) // 2]
    yield "two-segments-ack", (
        bytes([0b101, 2, 16, 1]) + struct.pack("<H", len(records[0]))
        + bytes([1]) + struct.pack("<H", len(first)) + first
        + bytes([2]) + rest + torn
    )
    # A damaged payload byte and a scribbled magic, with a raw-text ack.
    damaged = bytearray(b"".join(records))
    damaged[len(records[0]) + 20] ^= 0xFF
    damaged[len(records[0]) + len(records[1])] = ord("X")
    ack = b"1 0\n"
    yield "damaged", bytes([0b1100, 1, 0, len(ack)]) + ack + bytes([1]) + bytes(damaged)


def main():
    seeded = {}
    pbs = list(captures(".pb"))
    for name, path in pbs:
        data = path.read_bytes()
        put("otlp_protobuf", name, data)
        put("recognise", name, data)
    seeded["otlp_protobuf"] = seeded["recognise"] = len(pbs)

    jsons = list(captures(".json"))
    for name, path in jsons:
        put("otlp_json", name, json.dumps(otlp_json(json.loads(path.read_text()))).encode())
    spec = ROOT / "tests" / "data" / "specs" / "otlp-example-trace.json"
    if spec.is_file():
        put("otlp_json", "spec-example", spec.read_bytes())
    seeded["otlp_json"] = len(jsons) + spec.is_file()

    # Per capture folder, its first requests as queue records.
    folders = {}
    for _, path in pbs:
        folders.setdefault(path.parent, []).append(path.read_bytes())
    count = 0
    for folder, payloads in folders.items():
        if len(payloads) >= 4:
            for variant, data in disk_queue_seeds(payloads[:4]):
                put("disk_queue", f"{folder.parent.parent.name}-{folder.name}-{variant}", data)
                count += 1
    seeded["disk_queue"] = count

    put("config", "mcpcol.yaml", (ROOT / "collector-config" / "mcpcol.yaml").read_bytes())
    seeded["config"] = 1

    # The hand-made seeds, committed beside this script.
    for folder in sorted((ROOT / "fuzz" / "seeds").glob("*")):
        for path in sorted(folder.iterdir()):
            put(folder.name, path.name, path.read_bytes())
            seeded[folder.name] = seeded.get(folder.name, 0) + 1

    for target, n in sorted(seeded.items()):
        print(f"  {target}: {n} seeds")


main()
