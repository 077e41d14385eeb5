/**
 * `--config FILE`: every option of a command in a JSON or YAML file, keyed by the long flag name
 * (`socket`, `memory`, `external-store`, `peer`, `tls-cert`…). Flags on the command line
 * override the file.
 */
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './usage-error.js';

export function loadConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --config ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let value: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    value = parseYaml(text);
  } catch (error) {
    throw new UsageError(`--config ${file} is neither JSON nor YAML: ${(error as Error).message.split('\n')[0]!.replace(/:\s*$/, '')}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`--config ${file} must hold an object of options, such as {"socket": "/tmp/plasma.sock", "memory": "4GiB"}`);
  }
  return value as Record<string, unknown>;
}
