/**
 * Structured logs on stderr: one JSON object per line when stderr is not a TTY (machines read it),
 * a readable line on a TTY. Quiet by default: 'warn' unless PLASMAPOOL_LOG or --log-level says otherwise.
 */
import fs from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function initialLevel(): LogLevel {
  const fromEnv = process.env.PLASMAPOOL_LOG as LogLevel | undefined;
  return fromEnv && fromEnv in rank ? fromEnv : 'warn';
}

let threshold: LogLevel = initialLevel();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Where logs go instead of stderr (--log-file): JSON lines, appended. */
let logFile: { path: string; fd: number } | null = null;

/**
 * Append logs to `file` instead of writing them to stderr. SIGHUP reopens it, so that logrotate
 * can move the old file away (its `postrotate` sends SIGHUP).
 */
export function setLogFile(file: string): void {
  const fd = fs.openSync(file, 'a', 0o640);
  const first = logFile === null;
  logFile = { path: file, fd };
  if (first) {
    process.on('SIGHUP', () => {
      if (!logFile) return;
      const old = logFile.fd;
      logFile = { path: logFile.path, fd: fs.openSync(logFile.path, 'a', 0o640) };
      fs.closeSync(old);
    });
  }
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function emit(level: LogLevel, component: string, base: LogFields, msg: string, fields?: LogFields): void {
  if (rank[level] < rank[threshold]) return;
  const all = { ...base, ...fields };
  if (logFile) {
    fs.writeSync(logFile.fd, `${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...all })}\n`);
  } else if (process.stderr.isTTY) {
    const extra = Object.entries(all)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    process.stderr.write(`${level.toUpperCase()} ${component}: ${msg}${extra ? ` ${extra}` : ''}\n`);
  } else {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...all })}\n`);
  }
}

export function createLogger(component: string, base: LogFields = {}): Logger {
  return {
    debug: (msg, fields) => emit('debug', component, base, msg, fields),
    info: (msg, fields) => emit('info', component, base, msg, fields),
    warn: (msg, fields) => emit('warn', component, base, msg, fields),
    error: (msg, fields) => emit('error', component, base, msg, fields),
    child: (fields) => createLogger(component, { ...base, ...fields }),
  };
}
