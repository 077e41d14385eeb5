// Creates, seals and deletes objects as fast as it can until its store dies (reliability suite,
// store crashes). Every step is logged to a file before and after the store acknowledges it, so
// the checker knows what was sealed and deleted for certain at the moment of a crash.
// argv: socketPath, logFile, seed
import fs from 'node:fs';
import { connect, ObjectId } from '../../../dist/index.js';
import { seededRandom } from './seeded-random.mjs';

const [socketPath, logFile, seedText] = process.argv.slice(2);
const rand = seededRandom(Number(seedText) || 1);
/** The bytes of an object follow from its id, so the checker needs no copy. */
export function pattern(id, size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = id.bytes[i % 20] ^ (i & 0xff);
  return bytes;
}
const log = (line) => fs.appendFileSync(logFile, `${line}\n`);
const client = await connect(socketPath, { retries: 20 });
const sealed = [];
console.log('ready');
try {
  for (;;) {
    const r = rand();
    if (r < 0.45) {
      const id = ObjectId.random();
      const size = Math.floor(rand() * 100_000);
      log(`S? ${id.hex} ${size}`);
      const buffer = await client.create(id, size);
      buffer.data.set(pattern(id, size));
      await client.seal(id);
      buffer.release();
      log(`S ${id.hex} ${size}`);
      sealed.push(id);
    } else if (r < 0.75) {
      const id = ObjectId.random();
      const size = Math.floor(rand() * 2000);
      log(`S? ${id.hex} ${size}`);
      await client.createAndSeal(id, pattern(id, size));
      log(`S ${id.hex} ${size}`);
      sealed.push(id);
    } else if ((r < 0.9 || sealed.length > 400) && sealed.length > 0) {
      // (Deletes keep the live set small: an eviction would rightly drop acknowledged objects.)
      const id = sealed.splice(Math.floor(rand() * sealed.length), 1)[0];
      log(`D? ${id.hex}`);
      await client.delete([id]);
      log(`D ${id.hex}`);
    } else {
      // An object left unsealed: its memory must be free after the crash.
      const buffer = await client.create(ObjectId.random(), Math.floor(rand() * 50_000));
      buffer.data.fill(0xee);
    }
  }
} catch {
  process.exit(0); // the store went away
}
