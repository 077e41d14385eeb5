/**
 * The base class of every error plasmapool defines. `code` is stable for programs to test
 * (`error.code === 'OBJECT_NOT_FOUND'`); the message is for people and names the fix.
 */
export class PlasmapoolError extends Error {
  override name = 'PlasmapoolError';
  /** A stable, upper-case identifier of what went wrong. */
  readonly code: string = 'PLASMAPOOL_ERROR';
}

/** No store answers at a socket path (missing, refused, or not a plasmapool store). */
export class StoreUnreachableError extends PlasmapoolError {
  override name = 'StoreUnreachableError';
  override readonly code: string = 'STORE_UNREACHABLE';
}
