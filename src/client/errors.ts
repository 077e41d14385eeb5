/**
 * Errors a client call can throw, one class per Plasma error, with messages that name the fix.
 */
import { PlasmapoolError } from '../errors.js';
import { PlasmaError, type ReplyErrorCode } from '../protocol/messages.js';
import type { ObjectId } from '../protocol/object-id.js';
import { formatSize } from '../util/size.js';

/** The store refused a request, or answered one in a way this client cannot use. */
export class PlasmaStoreError extends PlasmapoolError {
  override name = 'PlasmaStoreError';
  override readonly code: string = 'STORE_ERROR';
}

/** create/createAndSeal/putTable: an object with this id exists (ids are never reused). */
export class PlasmaObjectExistsError extends PlasmaStoreError {
  override name = 'PlasmaObjectExistsError';
  override readonly code: string = 'OBJECT_EXISTS';
}

/** The store has no object with this id. */
export class PlasmaObjectNotFoundError extends PlasmaStoreError {
  override name = 'PlasmaObjectNotFoundError';
  override readonly code: string = 'OBJECT_NOT_FOUND';
}

/** The object does not fit: the store cannot evict enough unpinned objects (or its -m is too small). */
export class PlasmaStoreFullError extends PlasmaStoreError {
  override name = 'PlasmaStoreFullError';
  override readonly code: string = 'STORE_FULL';
}

/** @internal The error for a Plasma error code, naming the object and the fix. */
export function errorForCode(code: ReplyErrorCode, id?: ObjectId, size?: number, capacity?: number): PlasmaStoreError {
  const name = id ? `object ${id.hex}` : 'the object';
  switch (code) {
    case PlasmaError.ObjectExists:
      return new PlasmaObjectExistsError(`${name} already exists: object ids are unique, pick another id or delete the old object first`);
    case PlasmaError.ObjectNotFound:
      return new PlasmaObjectNotFoundError(`${name} was not found in the store`);
    case PlasmaError.OutOfMemory:
      return new PlasmaStoreFullError(
        size !== undefined && capacity !== undefined
          ? `${name} needs ${formatSize(size)} but the store (capacity ${formatSize(capacity)}) cannot free enough unpinned memory: release objects you hold or start the store with a larger -m`
          : `the store is out of memory for ${name}`,
      );
    default:
      return new PlasmaStoreError(`the store answered error ${code} for ${name}`);
  }
}
