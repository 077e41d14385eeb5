/**
 * The cluster TLS flags (`--tls-ca/--tls-cert/--tls-key`) as the files they name: one check for
 * `plasmapool store` and `cluster status`.
 */
import type { TlsFiles } from '../cluster/peer-auth.js';

export interface TlsArgs {
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
}

/** The TLS files, or undefined when none is given; throws when only some are. */
export function tlsFilesFrom(args: TlsArgs): TlsFiles | undefined {
  const flags = [args['tls-ca'], args['tls-cert'], args['tls-key']];
  if (flags.some(Boolean) && !flags.every(Boolean)) throw new Error('TLS needs all of --tls-ca, --tls-cert and --tls-key');
  return args['tls-ca'] ? { ca: args['tls-ca'], cert: args['tls-cert']!, key: args['tls-key']! } : undefined;
}
