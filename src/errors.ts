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

/** An option or argument with a bad value (a size, a path, an endpoint); the message names the fix. */
export class InvalidOptionError extends PlasmapoolError {
  override name = 'InvalidOptionError';
  override readonly code: string = 'INVALID_OPTION';
}

/** The external store (-e) cannot hold or give back an object. */
export class ExternalStoreError extends PlasmapoolError {
  override name = 'ExternalStoreError';
  override readonly code: string = 'EXTERNAL_STORE';
}

/** The native addon is missing or does not load on this machine. */
export class NativeAddonError extends PlasmapoolError {
  override name = 'NativeAddonError';
  override readonly code: string = 'NATIVE_ADDON';
}

/** A dataset cannot be read (a missing optional package, a file that is neither Parquet nor Arrow). */
export class DatasetError extends PlasmapoolError {
  override name = 'DatasetError';
  override readonly code: string = 'DATASET';
}

/** plasmapool broke one of its own rules; please report it with the message. */
export class InternalError extends PlasmapoolError {
  override name = 'InternalError';
  override readonly code: string = 'INTERNAL';
}
