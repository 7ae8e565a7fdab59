#!/usr/bin/python3
"""tests/data/read_tfrecord.py: reads alro record shards with an independent
TFRecord-framing reader (crcmod's CRC32C, hand-written protobuf wire decoding),
so a bug shared by our writer and reader cannot hide.

usage: read_tfrecord.py DATASET_DIR   (written by the data_python_fixture test)
Checks: manifest counts/sizes/CRCs, every frame's masked CRCs, each shard's
.idx offsets, and the example ids of the train split in order.
"""
import json
import os
import struct
import sys

import crcmod.predefined

_crc32c = crcmod.predefined.mkCrcFun("crc-32c")
MASK_DELTA = 0xA282EAD8


def masked_crc(data):
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF


def read_frames(path):
    """Yields (offset, payload) of every TFRecord frame of `path`."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"{path}: truncated header at {pos}")
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        if length_crc != masked_crc(data[pos:pos + 8]):
            raise ValueError(f"{path}: length CRC mismatch at {pos}")
        payload = data[pos + 12:pos + 12 + length]
        (payload_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if payload_crc != masked_crc(payload):
            raise ValueError(f"{path}: payload CRC mismatch at {pos}")
        yield pos, payload
        pos += 16 + length


def read_varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def example_id(payload):
    """Field 2 (string) of a ListExample, decoded from the wire format."""
    pos = 0
    while pos < len(payload):
        key, pos = read_varint(payload, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = read_varint(payload, pos)
        elif wire == 2:
            n, pos = read_varint(payload, pos)
            if field == 2:
                return payload[pos:pos + n].decode("utf-8")
            pos += n
        elif wire == 5:
            pos += 4
        elif wire == 1:
            pos += 8
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return None


def read_index(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"ALROIDX1", f"{path}: bad magic"
    (count,) = struct.unpack_from("<Q", data, 8)
    offsets = list(struct.unpack_from(f"<{count}Q", data, 16))
    (shard_bytes,) = struct.unpack_from("<Q", data, 16 + 8 * count)
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    assert crc == masked_crc(data[:-4]), f"{path}: index CRC mismatch"
    return offsets, shard_bytes


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["format"] == "alro-list-records"
    frames = 0
    ids = {}
    for split in manifest["splits"]:
        ids[split["name"]] = []
        total = 0
        for shard in split["shards"]:
            path = os.path.join(root, shard["file"])
            with open(path, "rb") as f:
                whole = f.read()
            assert len(whole) == shard["bytes"], path
            assert "%08x" % _crc32c(whole) == shard["crc32c"], path
            records = list(read_frames(path))
            offsets, shard_bytes = read_index(os.path.join(root, shard["index"]))
            assert [o for o, _ in records] == offsets, f"{path}: index offsets differ"
            assert shard_bytes == len(whole)
            assert len(records) == shard["records"], path
            ids[split["name"]] += [example_id(p) for _, p in records]
            total += len(records)
            frames += len(records)
        assert total == split["records"], split["name"]
    with open(os.path.join(root, "expected_train_ids.txt")) as f:
        expected = f.read().split()
    assert ids["train"] == expected, (ids["train"], expected)
    print(f"read_tfrecord.py: {frames} frames in {root} verified independently")


if __name__ == "__main__":
    main()
