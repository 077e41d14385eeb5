// The TypeScript client (the built dist/ of this repository) as a party of the interop tests.
//   node ts_agent.mjs SOCKET put_table HEX ROWS   putTable of the shared test table
//   node ts_agent.mjs SOCKET get_table HEX        print the columns of getTable as JSON
//   node ts_agent.mjs SOCKET put_raw HEX SIZE     create+seal the shared test bytes, metadata "ts"
import { tableFromArrays } from 'apache-arrow';
import { connect, getTable, ObjectId, putTable } from '../../../dist/index.js';

const [sock, command, ...args] = process.argv.slice(2);
const client = await connect(sock);
try {
  if (command === 'put_table') {
    const rows = Number(args[1]);
    const table = tableFromArrays({
      i: Int32Array.from({ length: rows }, (_, k) => k * 3),
      f: Float64Array.from({ length: rows }, (_, k) => k / 4),
      s: Array.from({ length: rows }, (_, k) => `row-${k % 7}`),
    });
    await putTable(client, ObjectId.fromHex(args[0]), table);
    console.log(JSON.stringify({ ok: true }));
  } else if (command === 'get_table') {
    const table = await getTable(client, ObjectId.fromHex(args[0]), { timeoutMs: 5000 });
    const out = {};
    for (const field of table.schema.fields) out[field.name] = Array.from(table.getChild(field.name).toArray());
    console.log(JSON.stringify(out));
  } else if (command === 'put_raw') {
    const size = Number(args[1]);
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) % 251);
    const object = await client.create(ObjectId.fromHex(args[0]), size, { metadata: new TextEncoder().encode('ts') });
    object.data.set(data);
    await client.seal(ObjectId.fromHex(args[0]));
    object.release();
    console.log(JSON.stringify({ ok: true }));
  } else {
    throw new Error(`unknown command ${command}`);
  }
} finally {
  client.close();
}
