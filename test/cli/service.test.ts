// Running plasmapool as a service: --config, --log-file, the ready line, exit codes, signals,
// and the small command-line fixes of issue 14 (each a regression test).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/plasma-client.js';
import { StoreUnreachableError, PlasmapoolError } from '../../src/errors.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import type { AdminObject, AdminStat } from '../../src/protocol/admin.js';
import { connectClient } from '../client/support.js';
import { cliPath, onCleanup, startStoreProcess, startTestCluster, tempDir } from '../helpers/processes.js';
import { runCli, runJson } from './run-cli.js';

describe('cli: configuration, logs and exit codes', () => {
  it('1. --config (YAML or JSON) carries the options and flags override it', async () => {
    const dir = tempDir();
    const yamlFile = path.join(dir, 'store.yaml');
    fs.writeFileSync(yamlFile, `# a store\nmemory: 32MiB\nmax-frame: 1MiB\nlog-level: info\n`);
    const fromYaml = await startStoreProcess('16MiB', ['--config', yamlFile]); // -m 16MiB on the command line wins
    expect((await runJson<AdminStat>(['stat', '-s', fromYaml.socketPath])).capacity).toBe(16 * 1024 * 1024);
    expect(fromYaml.stderr()).toMatch(/"msg":"store ready"/); // log-level info came from the file

    const jsonFile = path.join(dir, 'store.json');
    const socket = path.join(dir, 'json.sock');
    fs.writeFileSync(jsonFile, JSON.stringify({ socket, memory: '24MiB' }));
    const child = spawn(process.execPath, [cliPath, 'store', '--config', jsonFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => void child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await expect.poll(() => stdout, { timeout: 15_000 }).toMatch(/ready/);
    expect((await runJson<AdminStat>(['stat', '-s', socket])).capacity).toBe(24 * 1024 * 1024);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(child.exitCode).toBe(0);
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('2. a bad --config is a usage error (exit 2) that names the file and the problem', async () => {
    const dir = tempDir();
    const cases: [string, string, RegExp][] = [
      ['typo.json', '{"memroy": "1GiB"}', /Unknown argument: memroy/],
      ['broken.yaml', 'memory: [1GiB', /broken\.yaml is neither JSON nor YAML/],
      ['list.yaml', '- 1\n- 2\n', /must hold an object of options/],
    ];
    for (const [name, text, message] of cases) {
      fs.writeFileSync(path.join(dir, name), text);
      const result = await runCli(['store', '-s', path.join(dir, 's.sock'), '--config', path.join(dir, name)]);
      expect(result.code, name).toBe(2);
      expect(result.stderr, name).toMatch(message);
    }
    const missing = await runCli(['store', '--config', path.join(dir, 'none.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --config .*none\.yaml: no such file/);
  });

  it('3. --log-file takes the logs; the ready line is printed once on stdout', async () => {
    const logFile = path.join(tempDir(), 'store.log');
    const store = await startStoreProcess('16MiB', ['--log-file', logFile, '--log-level', 'info']);
    const client = await connectClient(store.socketPath);
    client.close();
    expect(await store.stop('SIGTERM')).toBe(0);
    expect(store.stdout().match(/plasmapool store ready/g)).toHaveLength(1);
    expect(store.stderr()).toBe('');
    const records = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { msg: string; level: string });
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['store ready', 'shutting down', 'store closed']));
  });

  it('4. usage errors exit 2, runtime errors exit 1', async () => {
    const dir = tempDir();
    expect((await runCli(['store', '--no-such-flag'])).code).toBe(2);
    expect((await runCli(['store', '-s', path.join(dir, 's.sock'), '-m', 'lots'])).code).toBe(2);
    expect((await runCli(['store', '-s', path.join(dir, 's.sock'), '--peer', 'b=127.0.0.1:1'])).code).toBe(2);
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli([])).code).toBe(2);
    const runtime = await runCli(['store', '-s', path.join(dir, 'missing-dir', 's.sock'), '-m', '16MiB']);
    expect(runtime.code).toBe(1);
    expect(runtime.stderr).toMatch(/does not exist/);
    expect((await runCli(['stat', '-s', path.join(dir, 'none.sock')])).code).toBe(1);
  });

  it('5. -d FILE says it is not a directory', async () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, '');
    const result = await runCli(['store', '-s', path.join(path.dirname(file), 's.sock'), '-m', '16MiB', '-d', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not a directory/);
    expect(result.stderr).not.toMatch(/does not exist/);
  });

  it('6. connect() names the problem once, and its error has a code', async () => {
    const socket = path.join(tempDir(), 'none.sock');
    const error = await connect(socket, { retries: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnreachableError);
    expect(error).toBeInstanceOf(PlasmapoolError);
    expect((error as PlasmapoolError).code).toBe('STORE_UNREACHABLE');
    const message = (error as Error).message;
    expect(message.match(/is the store running/gi) ?? []).toHaveLength(1);
    expect(message).toContain(`plasmapool store -s ${socket}`);
  });
});

describe('cli: cluster subcommands', () => {
  it('7. `plasmapool cluster` alone lists its subcommands; `cluster status` without a cluster says none is there', async () => {
    const bare = await runCli(['cluster']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/up .*status .*ls/);
    expect(bare.stderr).not.toMatch(/Not enough non-option arguments/);
    const dir = tempDir();
    for (const sub of ['status', 'ls']) {
      const result = await runCli(['cluster', sub, '--dir', dir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`no cluster found at ${dir}`);
      expect(result.stderr).not.toMatch(/ENOENT/);
    }
  });

  it('8. cluster ls lists every node\'s objects, with where each lives', async () => {
    const cluster = await startTestCluster({ nodes: 2, transport: 'shared' });
    const producer = await connectClient(cluster.nodes[0]!.socketPath);
    const consumer = await connectClient(cluster.nodes[1]!.socketPath);
    const id = ObjectId.fromName('cluster-ls/one');
    await producer.createAndSeal(id, new Uint8Array(3000));
    const held = await consumer.getOne(id, { timeoutMs: 5000 });
    const { objects, failures } = await runJson<{ objects: (AdminObject & { node: string })[]; failures: unknown[] }>([
      'cluster', 'ls', '--cluster', cluster.clusterFile,
    ]);
    expect(failures).toEqual([]);
    expect(objects).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ node: 'node-0', id: id.hex, location: { kind: 'local' }, pins: 1, holders: ['peer:node-1'] }),
        expect.objectContaining({ node: 'node-1', id: id.hex, location: { kind: 'peer', node: 'node-0' } }),
      ]),
    );
    const human = await runCli(['cluster', 'ls', '--dir', path.dirname(cluster.clusterFile)]);
    expect(human.stdout).toMatch(new RegExp(`node-1\\s+${id.hex}\\s+2\\.93 KiB\\s+sealed.*peer node-0 \\(mapped\\)`));
    held!.release();
    producer.close();
    consumer.close();
  });

  it('9. cluster up: SIGTERM to its whole process group stops every store and leaves no socket; --metrics per node', async () => {
    // The race it guards against (a second SIGTERM killing a store mid-cleanup) does not show every
    // time: three rounds.
    for (let round = 0; round < 3; round++) {
      const dir = path.join(tempDir(), `c${round}`);
      const up = spawn(process.execPath, [cliPath, 'cluster', 'up', '--nodes', '2', '--memory', '32MiB', '--dir', dir, '--metrics', '127.0.0.1:0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group, as under systemd or `timeout`
      });
      onCleanup(() => {
        try {
          process.kill(-up.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      });
      let stdout = '';
      let stderr = '';
      up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await expect.poll(() => stdout, { timeout: 40_000 }).toMatch(/node-1 .*metrics http/);
      const urls = [...stdout.matchAll(/metrics (http:\/\/\S+)/g)].map((m) => m[1]!);
      expect(urls).toHaveLength(2);

      for (const url of urls) expect((await fetch(url)).status).toBe(200);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.sock')).sort()).toEqual(['node-0.sock', 'node-1.sock']);

      const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
      process.kill(-up.pid!, 'SIGTERM');
      expect(await exited).toBe(0);
      await expect.poll(() => fs.readdirSync(dir), { timeout: 5000 }).toEqual([]);
      expect(stderr).not.toMatch(/exited \(code/);
    }
  });
});

describe('cli: cluster up from a config file', () => {
  it('10. cluster up --config takes nodes, memory, dir and metrics from YAML', async () => {
    const base = tempDir();
    const dir = path.join(base, 'c');
    const config = path.join(base, 'cluster.yaml');
    fs.writeFileSync(config, `nodes: 1\nmemory: 24MiB\ndir: ${dir}\nmetrics: 127.0.0.1:0\n`);
    const up = spawn(process.execPath, [cliPath, 'cluster', 'up', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => void up.kill('SIGKILL'));
    let stdout = '';
    up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await expect.poll(() => stdout, { timeout: 40_000 }).toMatch(/node-0 .*metrics http/);
    expect(stdout).toMatch(/1 stores, 24MiB each/);
    const stat = await runJson<AdminStat>(['stat', '-s', path.join(dir, 'node-0.sock')]);
    expect(stat.capacity).toBe(24 * 1024 * 1024);
    const exited = new Promise((resolve) => up.once('exit', resolve));
    up.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('cli: signals', () => {
  it('11. a second SIGTERM during the shutdown does not kill the store: exit 0, socket removed', async () => {
    for (let round = 0; round < 5; round++) {
      const store = await startStoreProcess('16MiB');
      const exited = new Promise<[number | null, string | null]>((resolve) => store.child.once('exit', (code, signal) => resolve([code, signal])));
      store.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 5 + round * 5));
      if (store.child.exitCode === null) store.child.kill('SIGTERM');
      expect(await exited, `round ${round}`).toEqual([0, null]);
      expect(fs.existsSync(store.socketPath)).toBe(false);
    }
  });
});
