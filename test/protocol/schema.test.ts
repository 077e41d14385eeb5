/**
 * fbs/*.fbs, the verifier's table shapes and the wire facts of docs/protocol.md §2 must agree.
 * The schema is parsed with a few regular expressions: it is ours and deliberately plain.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FieldKind, TableShape } from '../../src/protocol/flatbuffer-verifier.js';
import { MessageType, PlasmaError } from '../../src/protocol/messages.js';
import { CudaHandleShape, ObjectInfoShape, Shapes } from '../../src/protocol/table-shapes.js';

const schema = ['fbs/common.fbs', 'fbs/plasma.fbs']
  .map((file) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'))
  .join('\n')
  .replace(/\/\/.*$/gm, '');

function blocks(keyword: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of schema.matchAll(new RegExp(`${keyword}\\s+(\\w+)\\s*(?::\\s*\\w+\\s*)?\\{([^}]*)\\}`, 'g'))) {
    out.set(m[1]!, m[2]!);
  }
  return out;
}

const tables = blocks('table');

function fields(name: string): [string, string][] {
  return [...tables.get(name)!.matchAll(/(\w+)\s*:\s*([\w[\]]+)\s*;/g)].map((m) => [m[1]!, m[2]!]);
}

function kindOf(type: string): unknown {
  const simple: Record<string, unknown> = {
    string: 'string',
    bool: 'bool',
    int: 'int32',
    PlasmaError: 'int32',
    long: 'int64',
    ulong: 'uint64',
    '[string]': 'vector<string>',
    '[ubyte]': 'vector<ubyte>',
    '[int]': 'vector<int32>',
    '[PlasmaError]': 'vector<int32>',
    '[long]': 'vector<int64>',
    PlasmaObjectSpec: { struct: 48 },
    '[PlasmaObjectSpec]': { vectorOfStructs: 48 },
  };
  if (type in simple) return simple[type];
  const table = /^\[(\w+)\]$/.exec(type);
  return table ? { vectorOfTables: table[1] } : { table: type };
}

function describeKind(kind: FieldKind): unknown {
  if (typeof kind === 'string' || 'struct' in kind || 'vectorOfStructs' in kind) return kind;
  return 'table' in kind ? { table: kind.table().name } : { vectorOfTables: kind.vectorOfTables().name };
}

describe('schema', () => {
  const shapes: TableShape[] = [...Object.values(Shapes), ObjectInfoShape, CudaHandleShape];

  it.each(shapes.map((s) => [s.name, s] as const))('%s: shape matches the .fbs slot by slot', (name, shape) => {
    expect(tables.has(name)).toBe(true);
    expect(shape.fields.map((f) => [f.name, describeKind(f.kind)])).toEqual(fields(name).map(([f, t]) => [f, kindOf(t)]));
  });

  it('slots the protocol document pins down (§2.4, §2.5)', () => {
    const names = (table: string) => fields(table).map(([f]) => f);
    expect(names('PlasmaCreateRequest')).toEqual(['object_id', 'evict_if_full', 'data_size', 'metadata_size', 'device_num']);
    expect(names('PlasmaCreateReply')).toEqual(['object_id', 'plasma_object', 'error', 'store_fd', 'mmap_size', 'ipc_handle']);
    expect(names('PlasmaCreateAndSealRequest')).toEqual(['object_id', 'evict_if_full', 'data', 'metadata', 'digest']);
    expect(names('PlasmaCreateAndSealBatchRequest')).toEqual(['object_ids', 'evict_if_full', 'data', 'metadata', 'digest']);
    expect(names('PlasmaGetReply')).toEqual(['object_ids', 'plasma_objects', 'store_fds', 'mmap_sizes', 'handles']);
    expect(names('PlasmaDeleteReply')).toEqual(['count', 'object_ids', 'errors']);
    expect(names('ObjectInfo')).toEqual([
      'object_id',
      'data_size',
      'metadata_size',
      'ref_count',
      'create_time',
      'construct_duration',
      'digest',
      'is_deletion',
    ]);
  });

  it('PlasmaObjectSpec is int, 4 × ulong, int (48 bytes with padding)', () => {
    const body = blocks('struct').get('PlasmaObjectSpec')!;
    expect([...body.matchAll(/(\w+)\s*:\s*(\w+)\s*;/g)].map((m) => `${m[1]}:${m[2]}`)).toEqual([
      'segment_index:int',
      'data_offset:ulong',
      'data_size:ulong',
      'metadata_offset:ulong',
      'metadata_size:ulong',
      'device_num:int',
    ]);
  });

  it('enums: MessageType is long, PlasmaError int, values as in messages.ts', () => {
    expect(schema).toMatch(/enum\s+MessageType\s*:\s*long/);
    expect(schema).toMatch(/enum\s+PlasmaError\s*:\s*int\b/);
    const values = (name: string) =>
      Object.fromEntries([...blocks('enum').get(name)!.matchAll(/(\w+)\s*=\s*(\d+)/g)].map((m) => [m[1]!.replace(/^Plasma/, ''), Number(m[2])]));
    expect(values('MessageType')).toEqual(MessageType);
    expect(values('PlasmaError')).toEqual(PlasmaError);
  });

  it('no root_type or file_identifier (§1.3)', () => {
    expect(schema).not.toMatch(/root_type|file_identifier/);
  });
});

describe('generated code', () => {
  // flatc is a developer tool, not a runtime dependency: skip where it is not installed.
  const hasFlatc = spawnSync('flatc', ['--version']).status === 0;

  it.skipIf(!hasFlatc)('src/protocol/generated is what scripts/gen-fbs.sh makes of fbs/', () => {
    const run = spawnSync('bash', ['scripts/gen-fbs.sh', '--check'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    expect(run.stderr + run.stdout).toMatch(/up to date/);
    expect(run.status).toBe(0);
  });
});
