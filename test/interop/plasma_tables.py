"""Arrow tables through pyarrow 11's Plasma client, for test/interop/pyarrow.test.ts.

Usage: plasma_tables.py SOCKET read|write REQUEST_JSON

  read   {"objects": [{"id": HEX, "describe": "canonical"|"digests"}]}
         get each object, open its data with pa.ipc.open_stream(pa.py_buffer(buf)), describe it
  write  {"objects": [{"id": HEX, "table": "mixed"|"empty"|"big", "bytes": N}]}
         build the table, write it as an IPC stream straight into a plasma object, seal, describe

Prints one JSON object {HEX: description} on stdout. The descriptions are the ones
test/arrow/table-fixtures.ts computes in TypeScript (canonicalTable, columnDigests).
"""
import hashlib
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.plasma as plasma

WORDS = ["alpha", "beta", "γάμμα", "日本", "", "delta-with-a-longer-value"]


# ---------------------------------------------------------------- canonical descriptions

def type_string(t):
    if pa.types.is_dictionary(t):
        return f"dictionary<{type_string(t.index_type)},{type_string(t.value_type)}>"
    if pa.types.is_integer(t):
        return f"{'int' if pa.types.is_signed_integer(t) else 'uint'}{t.bit_width}"
    if pa.types.is_floating(t):
        return f"float{t.bit_width}"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t):
        return "utf8"
    if pa.types.is_large_string(t):
        return "large_utf8"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}" + (f",tz={t.tz}" if t.tz else "") + "]"
    if pa.types.is_list(t):
        return f"list<{type_string(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{type_string(f.type)}" for f in t) + ">"
    if pa.types.is_null(t):
        return "null"
    raise ValueError(f"no canonical name for {t}")


def canonical_value(v, t):
    if v is None:
        return None
    if pa.types.is_dictionary(t):
        return canonical_value(v, t.value_type)
    if pa.types.is_integer(t):
        return str(v)
    if pa.types.is_list(t):
        return [canonical_value(x, t.value_type) for x in v]
    if pa.types.is_struct(t):
        return {f.name: canonical_value(v[f.name], f.type) for f in t}
    return v  # float, bool, str


def canonical_table(table):
    columns = {}
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            values = column.cast(pa.int64()).to_pylist()
            columns[field.name] = [None if x is None else str(x) for x in values]
        else:
            columns[field.name] = [canonical_value(x, field.type) for x in column.to_pylist()]
    return {
        "schema": [[f.name, type_string(f.type), f.nullable] for f in table.schema],
        "rows": table.num_rows,
        "columns": columns,
    }


def column_digests(table):
    out = {}
    for field in table.schema:
        h = hashlib.sha256()
        column = table.column(field.name)
        for chunk in column.chunks:
            values = chunk.indices if pa.types.is_dictionary(field.type) else chunk
            if values.null_count:
                raise ValueError(f"{field.name} has nulls")
            width = values.type.bit_width // 8
            data = memoryview(values.buffers()[1])
            h.update(data[values.offset * width:(values.offset + len(values)) * width])
        if pa.types.is_dictionary(field.type):
            dictionary = column.chunks[0].dictionary.to_pylist()
            h.update(json.dumps(dictionary, ensure_ascii=False, separators=(",", ":")).encode())
        out[field.name] = h.hexdigest()
    return out


# ---------------------------------------------------------------- tables written by pyarrow

def mixed_table(rows=1000):
    def col(f, k):
        return [None if i % k == 0 else f(i) for i in range(rows)]

    table = pa.table({
        "i32": pa.array(col(lambda i: i - 500, 7), pa.int32()),
        "i64": pa.array(col(lambda i: i * 1_000_000_007 - 3, 11), pa.int64()),
        "f64": pa.array(col(lambda i: i * 0.25 - 100, 13), pa.float64()),
        "flag": pa.array(col(lambda i: i % 3 == 0, 5), pa.bool_()),
        "text": pa.array(col(lambda i: f"{WORDS[i % 6]}-{i}", 4), pa.string()),
        "long_text": pa.array(col(lambda i: WORDS[i % 6] * (i % 5), 12), pa.large_string()),
        "category": pa.array(col(lambda i: WORDS[i % 4], 9), pa.string()).dictionary_encode(),
        "items": pa.array(
            col(lambda i: [None if (k == 1 and i % 8 == 3) else i * 10 + k for k in range(i % 4)], 6),
            pa.list_(pa.int32()),
        ),
        "point": pa.array(
            col(lambda i: {"x": None if i % 3 == 0 else i, "label": WORDS[i % 6]}, 10),
            pa.struct([("x", pa.int32()), ("label", pa.string())]),
        ),
        "when": pa.array(col(lambda i: 1_700_000_000_000_000 + i * 1_000_000, 8), pa.timestamp("us")),
        "when_utc": pa.array(col(lambda i: 1_700_000_000_000 + i, 15), pa.timestamp("ms", tz="UTC")),
    })
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows // 2 or 1))


def big_table(nbytes):
    rows = -(-nbytes // 24)
    airports = pa.array(["ATL", "ORD", "DFW", "LAX", "SFO", "JFK", "SEA", "BOS"])
    batches = []
    for start in range(0, rows, 1 << 20):
        r = np.arange(start, min(rows, start + (1 << 20)), dtype=np.int64)
        batches.append(pa.RecordBatch.from_arrays([
            pa.array(r * 0.5 - 1e6),
            pa.array(r * 3 - 7),
            pa.array((r * 2654435761).astype(np.int32)),
            pa.DictionaryArray.from_arrays(pa.array(((r * 7 + (r >> 5)) & 7).astype(np.int32)), airports),
        ], names=["f64", "i64", "i32", "airport"]))
    return pa.Table.from_batches(batches)


def write_table(client, object_id, table):
    """Create, write an IPC stream straight into the object's memory, seal."""
    mock = pa.MockOutputStream()
    with pa.ipc.new_stream(mock, table.schema) as writer:
        writer.write_table(table)
    buf = client.create(object_id, mock.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buf), table.schema) as writer:
        writer.write_table(table)
    client.seal(object_id)
    del buf


def describe(table, how):
    return canonical_table(table) if how == "canonical" else column_digests(table)


def main():
    socket, command, request = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = plasma.connect(socket)
    out = {}
    for spec in request["objects"]:
        object_id = plasma.ObjectID(bytes.fromhex(spec["id"]))
        if command == "read":
            [buf] = client.get_buffers([object_id], timeout_ms=10_000)
            if buf is None:
                raise SystemExit(f"object {spec['id']} not available")
            table = pa.ipc.open_stream(pa.py_buffer(buf)).read_all()
            out[spec["id"]] = describe(table, spec["describe"])
            del table, buf
        elif command == "write":
            kind = spec["table"]
            table = {"mixed": mixed_table, "empty": lambda: mixed_table().schema.empty_table()}.get(kind, lambda: big_table(spec["bytes"]))()
            write_table(client, object_id, table)
            out[spec["id"]] = describe(table, "digests" if kind == "big" else "canonical")
        else:
            raise SystemExit(f"unknown command {command}")
    client.disconnect()
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
