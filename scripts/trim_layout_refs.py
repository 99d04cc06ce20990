"""Trim ../shared/fixtures/layout-refs.* to what the tests read (testdata/).

Keeps every case's `nll` (512 values) and the logits row of the last
position only (511): the NLL already checks every position's log-softmax at
its target, the full row checks the whole vocabulary once. Standard library
only. Usage: python3 scripts/trim_layout_refs.py SRC_DIR DST_DIR
"""
import json
import struct
import sys

KEEP = [511]


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    return hdr, data


def main(src, dst):
    meta = json.load(open(f"{src}/layout-refs.json"))
    rows = [meta["positions"].index(p) for p in KEEP]
    hdr, data = read(f"{src}/layout-refs.safetensors")
    out_hdr, blobs, off = {}, [], 0
    for name in sorted(k for k in hdr if k != "__metadata__"):
        e = hdr[name]
        assert e["dtype"] == "F32", name
        raw = data[e["data_offsets"][0]:e["data_offsets"][1]]
        shape = e["shape"]
        if name.endswith("/logits"):
            v = shape[1]
            raw = b"".join(raw[r * v * 4:(r + 1) * v * 4] for r in rows)
            shape = [len(rows), v]
        out_hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(out_hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(f"{dst}/layout-refs.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    meta["positions"] = KEEP
    meta["trimmed"] = "from ../shared/fixtures/layout-refs.* by scripts/trim_layout_refs.py: logits at the positions listed only"
    with open(f"{dst}/layout-refs.json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
