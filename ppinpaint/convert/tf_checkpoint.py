"""Read TensorFlow (V2 "tensor bundle") checkpoints with numpy only.

A checkpoint ``<prefix>`` is ``<prefix>.index`` plus ``<prefix>.data-0000k-of-0000N`` shards.
The index is a LevelDB-style sorted table (tensorflow/core/lib/io/table*): data blocks of
prefix-compressed ``key -> value`` entries, an index block pointing at them and a 48-byte footer.
The empty key holds a ``BundleHeaderProto``; every other key is a tensor name whose value is a
``BundleEntryProto`` (dtype, shape, shard, offset, size) locating its raw little-endian bytes in a
shard; a partitioned variable's entry lists slices stored under their own keys instead. TensorFlow
writes the index uncompressed (the bundle writer sets ``kNoCompression``), so
compressed blocks are refused rather than decoded. Checksums are not verified (crc32c in pure
Python would be slow); every size is checked against the dtype and shape instead.
"""
import os
import re
import struct
from typing import BinaryIO, Dict, List, Tuple

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER = 5  # 1 byte compression type + 4 bytes masked crc32c

# tensorflow/core/framework/types.proto DataType -> numpy dtype (bfloat16 read as uint16, widened).
_TF_DTYPES = {
    1: "f4", 2: "f8", 3: "i4", 4: "u1", 5: "i2", 6: "i1", 7: "string", 8: "c8", 9: "i8", 10: "?",
    14: "bf16", 17: "u2", 18: "c16", 19: "f2", 22: "u4", 23: "u8",
}


class TFCheckpointError(ValueError):
    """The TensorFlow checkpoint cannot be read; the message names the file."""


def _varint(buf: bytes, pos: int) -> Tuple[int, int]:
    """Decode a protobuf/LevelDB varint at ``pos``; returns (value, next position)."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise TFCheckpointError("bad varint (file truncated or corrupt)")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if byte < 0x80:
            return value, pos


def _proto_fields(buf: bytes) -> List[Tuple[int, int, object]]:
    """(field number, wire type, value) of a protobuf message: varints as int, length-delimited as bytes."""
    fields, pos = [], 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
        else:
            raise TFCheckpointError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise TFCheckpointError("protobuf message runs past its end")
        fields.append((number, wire, value))
    return fields


def _read_block(table: bytes, handle: bytes) -> bytes:
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if offset + size + _BLOCK_TRAILER > len(table):
        raise TFCheckpointError("index block runs past the end of the file (truncated?)")
    block, kind = table[offset:offset + size], table[offset + size]
    if kind != 0:  # TensorFlow's BundleWriter sets kNoCompression; 1 would be snappy
        raise TFCheckpointError(f"compressed index block (type {kind}): not a TensorFlow bundle index")
    return block


def _block_entries(block: bytes) -> List[Tuple[bytes, bytes]]:
    """The ``(key, value)`` pairs of one table block (keys share prefixes with their predecessor)."""
    if len(block) < 4:
        raise TFCheckpointError("index block too short")
    (restarts,) = struct.unpack("<I", block[-4:])
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise TFCheckpointError("corrupt index block")
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + length]))
        pos += length
    if pos != end:
        raise TFCheckpointError("corrupt index block")
    return entries


def _table_entries(table: bytes) -> List[Tuple[bytes, bytes]]:
    if len(table) < _FOOTER_SIZE:
        raise TFCheckpointError("index file too short (truncated?)")
    footer = table[-_FOOTER_SIZE:]
    if struct.unpack("<Q", footer[-8:])[0] != _TABLE_MAGIC:
        raise TFCheckpointError("not a TensorFlow checkpoint index (bad table magic; truncated?)")
    _, pos = _varint(footer, 0)  # metaindex handle: unused by tensor bundles
    _, pos = _varint(footer, pos)
    index = _read_block(table, footer[pos:])
    return [entry for _, handle in _block_entries(index) for entry in _block_entries(_read_block(table, handle))]


def _fields(buf: bytes, wires: Dict[int, int]) -> Dict[int, object]:
    """The known fields of a message (last one wins, as in protobuf), each checked for its wire type."""
    out: Dict[int, object] = {}
    for number, wire, value in _proto_fields(buf):
        if number in wires:
            if wire != wires[number]:
                raise TFCheckpointError(f"protobuf field {number} has wire type {wire}, expected {wires[number]}")
            out[number] = value
    return out


class _Entry:
    """The fields of a ``BundleEntryProto`` we need."""

    def __init__(self, name: str, value: bytes) -> None:
        # dtype=1, shape=2 (TensorShapeProto: dim=2 {size=1}), shard_id=3, offset=4, size=5, slices=7
        fields = _fields(value, {1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 7: 2})
        self.name = name
        self.dtype, self.shard = fields.get(1, 0), fields.get(3, 0)
        self.offset, self.size = fields.get(4, 0), fields.get(5, 0)
        dims = [dim for number, wire, dim in _proto_fields(fields.get(2, b"")) if number == 2 and wire == 2]
        self.shape = [_fields(dim, {1: 0}).get(1, 0) for dim in dims]
        # A partitioned variable lists its slices (TensorSliceProto: extent=1 {start=1, length=2});
        # an extent without length spans the whole dimension, encoded (start 0, length -1).
        self.slices = [[(ext.get(1, 0), ext.get(2, -1)) for ext in
                        (_fields(e, {1: 0, 2: 0}) for n, w, e in _proto_fields(sl) if n == 1 and w == 2)]
                       for number, wire, sl in _proto_fields(value) if number == 7 and wire == 2]


def _decode_strings(raw: bytes, count: int) -> np.ndarray:
    # DT_STRING: ``count`` varint lengths, a 4-byte checksum, then the bytes back to back.
    lengths, pos = [], 0
    for _ in range(count):
        n, pos = _varint(raw, pos)
        lengths.append(n)
    pos += 4
    out = np.empty(count, dtype=object)
    for i, n in enumerate(lengths):
        out[i], pos = raw[pos:pos + n], pos + n
    return out


def _tensor(entry: _Entry, raw: bytes, big_endian: bool) -> np.ndarray:
    code = _TF_DTYPES.get(entry.dtype)
    if code is None:
        raise TFCheckpointError(f"{entry.name}: unsupported dtype enum {entry.dtype}")
    count = int(np.prod(entry.shape, dtype=np.int64))
    if code == "string":
        return _decode_strings(raw, count).reshape(entry.shape)
    dtype = np.dtype("u2" if code == "bf16" else code).newbyteorder(">" if big_endian else "<")
    if len(raw) != count * dtype.itemsize:
        raise TFCheckpointError(f"{entry.name}: {len(raw)} bytes for shape {entry.shape} of {code}")
    array = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
    if code == "bf16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array.reshape(entry.shape)


class _Shards:
    """Open data shards, read by entry."""

    def __init__(self, prefix: str, count: int) -> None:
        self.prefix, self.count = prefix, count
        self.files: Dict[int, BinaryIO] = {}

    def read(self, entry: _Entry) -> bytes:
        if entry.shard not in self.files:
            self.files[entry.shard] = open(f"{self.prefix}.data-{entry.shard:05d}-of-{self.count:05d}", "rb")
        f = self.files[entry.shard]
        f.seek(entry.offset)
        raw = f.read(entry.size)
        if len(raw) != entry.size:
            raise TFCheckpointError(f"{os.path.basename(f.name)} ends inside {entry.name} (truncated?)")
        return raw

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _assemble(entry: _Entry, slice_values: Dict[bytes, bytes], shards: _Shards, big_endian: bool) -> np.ndarray:
    """A partitioned variable from its slices, each stored under its own encoded key.

    The key is ``OrderedCode(0, name, ndims, start_0, length_0, …)`` (TensorFlow's
    EncodeTensorNameSlice); OrderedCode sorts like the numbers it encodes, so the variable's
    slice keys in table order match its slice list sorted by (start_0, length_0, …) without
    decoding the numbers.
    """
    escaped = entry.name.encode("utf-8").replace(b"\x00", b"\x00\xff").replace(b"\xff", b"\xff\x00")
    head = b"\x00" + escaped + b"\x00\x01"
    keys = sorted(k for k in slice_values if k.startswith(head))
    extents = sorted(entry.slices, key=lambda ext: [v for pair in ext for v in pair])
    if len(keys) != len(extents) or any(len(ext) != len(entry.shape) for ext in extents):
        raise TFCheckpointError(f"{entry.name}: {len(extents)} slices listed, {len(keys)} stored")
    out, filled = None, 0
    for key, ext in zip(keys, extents):
        where = ", ".join(":" if length < 0 else f"{start}:{start + length}" for start, length in ext)
        part = _Entry(f"{entry.name}[{where}]", slice_values[key])
        value = _tensor(part, shards.read(part), big_endian)
        index = tuple(slice(None) if length < 0 else slice(start, start + length) for start, length in ext)
        if out is None:
            out = np.zeros(entry.shape, dtype=value.dtype)
        if out[index].shape != value.shape:
            raise TFCheckpointError(f"{part.name}: slice of shape {value.shape} does not fit {entry.shape}")
        out[index] = value
        filled += value.size
    if out is None or filled != out.size:  # partitions tile the variable exactly once
        raise TFCheckpointError(f"{entry.name}: slices cover {filled} of {int(np.prod(entry.shape))} elements")
    return out


def _read(prefix: str) -> Dict[str, np.ndarray]:
    with open(prefix + ".index", "rb") as f:
        entries = _table_entries(f.read())
    if not entries or entries[0][0] != b"":
        raise TFCheckpointError("no bundle header (a V1 checkpoint? re-save it with a TF >= 1.0 Saver)")
    header = _fields(entries[0][1], {1: 0, 2: 0})  # num_shards, endianness (1 = big)
    shards, big_endian = _Shards(prefix, header.get(1, 1)), header.get(2, 0) == 1
    slice_values = {key: value for key, value in entries[1:] if key.startswith(b"\x00")}
    out: Dict[str, np.ndarray] = {}
    try:
        for key, value in entries[1:]:
            if key.startswith(b"\x00"):  # one slice of a partitioned variable, read with it
                continue
            entry = _Entry(key.decode("utf-8"), value)
            if entry.slices:
                out[entry.name] = _assemble(entry, slice_values, shards, big_endian)
            else:
                out[entry.name] = _tensor(entry, shards.read(entry), big_endian)
    finally:
        shards.close()
    return out


def read_tf_checkpoint(prefix: str) -> Dict[str, np.ndarray]:
    """``{variable name: ndarray}`` of the TensorFlow checkpoint ``prefix`` (``<prefix>.index`` + data shards)."""
    if not os.path.isfile(prefix + ".index"):
        raise TFCheckpointError(f"{prefix}.index: no such file (give the checkpoint prefix, e.g. model.ckpt-1000)")
    try:
        return _read(prefix)
    except TFCheckpointError as e:
        raise TFCheckpointError(f"TensorFlow checkpoint {prefix}: {e}") from None
    except (OSError, ValueError, OverflowError, MemoryError) as e:  # includes bad UTF-8 names, huge offsets
        raise TFCheckpointError(f"TensorFlow checkpoint {prefix}: corrupt or unreadable "
                                f"({type(e).__name__}: {e})") from None


def latest_checkpoint(folder: str) -> str:
    """The checkpoint prefix a TensorFlow run folder points at (its ``checkpoint`` file, else its only index)."""
    state = os.path.join(folder, "checkpoint")
    if os.path.isfile(state):
        with open(state, encoding="utf-8") as f:
            match = re.search(r'^model_checkpoint_path:\s*"(.*)"', f.read(), re.M)
        if match:
            return os.path.join(folder, match.group(1))
    indexes = sorted(name[:-len(".index")] for name in os.listdir(folder) if name.endswith(".index"))
    if len(indexes) != 1:
        raise TFCheckpointError(f"{folder}: {len(indexes)} checkpoints and no 'checkpoint' file; give the prefix")
    return os.path.join(folder, indexes[0])
