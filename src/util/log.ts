/**
 * Structured logs on stderr: one JSON object per line when stderr is not a TTY (machines read it),
 * a readable line on a TTY. Quiet by default: 'warn' unless PLASMAPOOL_LOG or --log-level says otherwise.
 */
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
  if (process.stderr.isTTY) {
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
