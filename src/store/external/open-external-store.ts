/**
 * Turn an `-e` endpoint into an external store: `hashtable://NAME` or `file:///DIR`.
 */
import { InvalidOptionError } from '../../errors.js';
import fs from 'node:fs';
import xxhash from 'xxhash-wasm';
import type { ExternalStore } from './external-store.js';
import { FileStore } from './file-store.js';
import { HashTableStore } from './hashtable-store.js';

export async function openExternalStore(endpoint: string): Promise<ExternalStore> {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(endpoint);
  if (!match) {
    throw new InvalidOptionError(`external store "${endpoint}" is not NAME://…: use hashtable://NAME or file:///DIR`);
  }
  const [, scheme, rest] = match;
  if (scheme === 'hashtable') return new HashTableStore(endpoint);
  if (scheme === 'file') {
    const directory = rest!;
    if (!directory.startsWith('/')) throw new InvalidOptionError(`external store "${endpoint}": use an absolute path, file:///DIR`);
    fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    fs.accessSync(directory, fs.constants.W_OK);
    return new FileStore(endpoint, directory, await xxhash());
  }
  throw new InvalidOptionError(`unknown external store "${scheme}" in "${endpoint}": use hashtable://NAME or file:///DIR`);
}
