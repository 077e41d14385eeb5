/**
 * A Table made by another copy of apache-arrow (npm link, a nested install, another version) is
 * refused with an error that names the cause; it is never written as a corrupt stream. The second
 * copy here is the installed package linked file by file under another path, which Node loads as
 * an entirely separate module graph, exactly as a linked or nested install does.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ObjectId, putTable } from '../../src/index.js';
import { storeWithClient } from '../client/support.js';
import { onCleanup, repoRoot } from '../helpers/processes.js';

/**
 * Run `body` in a plain Node process (as a user's program runs, outside the test runner's module
 * graph) that has `other` bound to a second copy of apache-arrow and `pp` to the built plasmapool.
 */
function runWithSecondArrowCopy(socketPath: string, body: string): Record<string, unknown> {
  // Inside the checkout, so that apache-arrow's own dependencies still resolve from node_modules.
  const root = fs.mkdtempSync(path.join(repoRoot, 'node_modules', '.pp-arrow-copy-'));
  onCleanup(() => fs.rmSync(root, { recursive: true, force: true }));
  const copy = path.join(root, 'node_modules', 'apache-arrow');
  fs.mkdirSync(path.dirname(copy), { recursive: true });
  execFileSync('cp', ['-al', path.join(repoRoot, 'node_modules', 'apache-arrow'), copy]);
  const script = path.join(root, 'user.mjs');
  fs.writeFileSync(
    script,
    `import * as other from ${JSON.stringify(pathToFileURL(path.join(copy, 'Arrow.node.mjs')).href)};
import * as ours from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'node_modules', 'apache-arrow', 'Arrow.node.mjs')).href)};
import * as pp from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', 'index.js')).href)};
const client = await pp.connect(${JSON.stringify(socketPath)});
const result = {};
try {
${body}
} finally {
  client.close();
}
console.log(JSON.stringify(result));
`,
  );
  return JSON.parse(execFileSync(process.execPath, [script], { cwd: repoRoot }).toString()) as Record<string, unknown>;
}

describe('a Table from another copy of apache-arrow', () => {
  it('is refused by putTable and putRecordBatches with an error naming the cause; nothing is stored', async () => {
    const { store } = await storeWithClient();
    const result = runWithSecondArrowCopy(
      store.socketPath,
      `
  // A dictionary column: the case that was silently written short (440 bytes instead of 672).
  const foreign = new other.Table({
    x: other.vectorFromArray([1, 2, 3], new other.Float64()),
    tag: other.vectorFromArray(['a', 'b', 'a'], new other.Dictionary(new other.Utf8(), new other.Int32())),
  });
  // (instanceof cannot tell: apache-arrow answers it by duck typing)
  result.separateCopy = !ours.Table.prototype.isPrototypeOf(foreign);
  const id = pp.ObjectId.random();
  const refusals = await Promise.all([
    pp.putTable(client, id, foreign).then(() => null, (e) => ({ name: e.name, message: e.message })),
    pp.putRecordBatches(client, id, foreign.schema, foreign.batches).then(() => null, (e) => ({ name: e.name, message: e.message })),
  ]);
  result.refusals = refusals;
  result.storedAfterRefusal = await client.contains(id);
  // The way out the message gives: IPC bytes from their copy, read by ours.
  await pp.putTable(client, id, ours.tableFromIPC(other.tableToIPC(foreign)));
  result.tagBack = [...(await pp.getTable(client, id)).getChild('tag')];
`,
    );
    expect(result.separateCopy).toBe(true);
    for (const refusal of result.refusals as { name: string; message: string }[]) {
      expect(refusal.name).toBe('ForeignArrowError');
      expect(refusal.message).toMatch(/another copy of apache-arrow.*npm ls apache-arrow/);
    }
    expect(result.storedAfterRefusal).toBe(false);
    expect(result.tagBack).toEqual(['a', 'b', 'a']);
  });

  it('a value that is no Table at all gets a TypeError', async () => {
    const { client } = await storeWithClient();
    await expect(putTable(client, ObjectId.random(), { schema: {}, batches: [] } as never)).rejects.toThrow(TypeError);
  });
});
