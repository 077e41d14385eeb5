"""The pyarrow 11 Plasma client as a third party of the interop tests.

Run with the pyarrow 11 venv (.venv/bin/python):
  pyarrow11_agent.py SOCKET put_table HEX ROWS   write the shared test table as an IPC stream
                                                 through create/seal (no metadata, as pyarrow users do)
  pyarrow11_agent.py SOCKET get_table HEX        print the table's columns as JSON
  pyarrow11_agent.py SOCKET put_raw HEX SIZE     an object of the shared test bytes, metadata b"pa11"
  pyarrow11_agent.py SOCKET hash HEX...          print {hex: digest hex}
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.plasma as plasma  # noqa: E402


def test_table(rows):
    k = np.arange(rows)
    return pa.table({"i": pa.array(k * 3, pa.int32()), "f": pa.array(k / 4.0, pa.float64()),
                     "s": pa.array([f"row-{j % 7}" for j in range(rows)], pa.string())})


def test_bytes(size):
    return ((np.arange(size, dtype=np.int64) * 31 + 7) % 251).astype(np.uint8).tobytes()


def main():
    sock, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = plasma.connect(sock, num_retries=20)
    oid = lambda h: plasma.ObjectID(bytes.fromhex(h))  # noqa: E731
    if command == "put_table":
        table = test_table(int(args[1]))
        sink = pa.MockOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        buf = client.create(oid(args[0]), sink.size())
        stream = pa.FixedSizeBufferWriter(buf)
        with pa.ipc.new_stream(stream, table.schema) as writer:
            writer.write_table(table)
        client.seal(oid(args[0]))
        print(json.dumps({"ok": True}))
    elif command == "get_table":
        [buf] = client.get_buffers([oid(args[0])], timeout_ms=5000)
        table = pa.ipc.open_stream(buf).read_all()
        print(json.dumps({name: table.column(name).to_pylist() for name in table.column_names}))
    elif command == "put_raw":
        data = test_bytes(int(args[1]))
        buf = client.create(oid(args[0]), len(data), b"pa11")
        np.frombuffer(buf, dtype=np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
        client.seal(oid(args[0]))
        print(json.dumps({"ok": True}))
    elif command == "hash":
        print(json.dumps({h: client.hash(oid(h)).hex() for h in args}))
    else:
        sys.exit(f"unknown command {command}")
    client.disconnect()


main()
