/**
 * Exit codes of every `plasmapool` command: 0 success, 1 a runtime failure (no store there, an
 * object not found, a store that stopped), 2 a usage error (a bad flag or argument, an unreadable
 * --config). A UsageError thrown by a handler exits with 2.
 */
import { PlasmapoolError } from '../errors.js';

export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export class UsageError extends PlasmapoolError {
  override name = 'UsageError';
  override readonly code: string = 'USAGE';
}
