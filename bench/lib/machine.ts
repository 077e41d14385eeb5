/** The machine a run measured: printed with every result, because ratios only mean something per machine. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { REPO_ROOT } from './options.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGB: number;
  kernel: string;
  os: string;
  node: string;
  devShmFreeGB: number | null;
  transparentHugepages: string | null;
  gitCommit: string | null;
  gitDirty: boolean | null;
  loadAverage: number[];
  pyarrow?: string;
  numpy?: string;
  python?: string;
}

function tryRead(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  let devShmFreeGB: number | null = null;
  try {
    const s = fs.statfsSync('/dev/shm');
    devShmFreeGB = Math.round(((s.bavail * s.bsize) / 1e9) * 10) / 10;
  } catch {
    // no /dev/shm
  }
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGB: Math.round((os.totalmem() / 1e9) * 10) / 10,
    kernel: os.release(),
    os: `${os.type()} ${os.arch()}`,
    node: process.version,
    devShmFreeGB,
    transparentHugepages: tryRead('/sys/kernel/mm/transparent_hugepage/enabled'),
    gitCommit: git(['rev-parse', '--short', 'HEAD']),
    gitDirty: status === null ? null : status.length > 0,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
