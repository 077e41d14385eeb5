/**
 * The etcd flags of `plasmapool store` and `plasmapool cluster up`: one definition, so that both
 * commands spell and check them alike.
 */
import type { Argv } from 'yargs';
import type { EtcdOptions } from '../cluster/etcd-membership.js';

export interface EtcdArgs {
  etcd?: string;
  'etcd-prefix': string;
  'etcd-ca'?: string;
  'etcd-cert'?: string;
  'etcd-key'?: string;
  'etcd-ttl': number;
}

export function etcdFlags<T>(y: Argv<T>) {
  return y
    .option('etcd', { type: 'string', describe: 'cluster: membership on etcd: client URL(s), comma-separated (http://HOST:PORT or https://…)' })
    .option('etcd-prefix', { type: 'string', default: '/plasmapool', describe: 'cluster: etcd key prefix of this cluster (members under PREFIX/members/)' })
    .option('etcd-ca', { type: 'string', describe: 'cluster: CA certificate (PEM) of the etcd servers (TLS to etcd)' })
    .option('etcd-cert', { type: 'string', describe: 'cluster: client certificate (PEM) for etcd' })
    .option('etcd-key', { type: 'string', describe: 'cluster: client key (PEM) for etcd' })
    .option('etcd-ttl', { type: 'number', default: 3, describe: 'cluster: etcd lease TTL in seconds (at least 2): a cut-off store fences itself within it' });
}

/** The etcd options the flags give, or undefined without --etcd; throws naming a bad flag. */
export function etcdOptionsFrom(args: EtcdArgs): EtcdOptions | undefined {
  const others = (['etcd-ca', 'etcd-cert', 'etcd-key'] as const).filter((flag) => args[flag]);
  if (!args.etcd) {
    if (others.length > 0) throw new Error(`--${others[0]} needs --etcd URL`);
    return undefined;
  }
  if (Boolean(args['etcd-cert']) !== Boolean(args['etcd-key'])) throw new Error('--etcd-cert and --etcd-key go together');
  if (args['etcd-cert'] && !args['etcd-ca']) throw new Error('--etcd-cert needs --etcd-ca (the CA of the etcd servers)');
  const endpoints = args.etcd.split(',').map((url) => url.trim()).filter(Boolean);
  if (args['etcd-ca'] && endpoints.some((url) => url.startsWith('http://'))) {
    throw new Error('--etcd-ca is for TLS: use https:// etcd URLs with it');
  }
  if (!args['etcd-ca'] && endpoints.some((url) => url.startsWith('https://'))) {
    throw new Error('https:// etcd URLs need --etcd-ca (the CA of the etcd servers)');
  }
  if (!/^\/[^\s]*$/.test(args['etcd-prefix'])) throw new Error(`--etcd-prefix must start with "/", got "${args['etcd-prefix']}"`);
  return {
    endpoints,
    prefix: args['etcd-prefix'],
    ttlSeconds: args['etcd-ttl'],
    tls: args['etcd-ca'] ? { ca: args['etcd-ca'], cert: args['etcd-cert'], key: args['etcd-key'] } : undefined,
  };
}
