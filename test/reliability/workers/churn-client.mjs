// A client doing random work until it is killed (reliability suite): it creates objects and
// leaves some unsealed, seals others, gets and holds shared objects, subscribes, deletes.
// argv: socketPath, comma-separated hex ids of shared objects, seed
import { connect, ObjectId } from '../../../dist/index.js';
import { seededRandom } from './seeded-random.mjs';

const [socketPath, shared, seedText] = process.argv.slice(2);
const sharedIds = shared.split(',').filter(Boolean).map((hex) => ObjectId.fromHex(hex));
const rand = seededRandom(Number(seedText) || 1);
const client = await connect(socketPath);
const held = [];
console.log('ready');
for (;;) {
  const r = rand();
  try {
    if (r < 0.3) {
      const buffer = await client.create(ObjectId.random(), Math.floor(rand() * 20_000));
      buffer.data.fill(1);
      if (rand() < 0.5) await client.seal(buffer.id);
      held.push(buffer);
    } else if (r < 0.6 && sharedIds.length > 0) {
      const [buffer] = await client.get([sharedIds[Math.floor(rand() * sharedIds.length)]], { timeoutMs: 100 });
      if (buffer) held.push(buffer);
    } else if (r < 0.7) {
      await client.createAndSeal(ObjectId.random(), new Uint8Array(Math.floor(rand() * 1000)));
    } else if (r < 0.75) {
      await client.subscribe?.();
    } else if (held.length > 0) {
      held.splice(Math.floor(rand() * held.length), 1)[0].release();
    }
  } catch {
    // store full, or the like: keep going
  }
}
