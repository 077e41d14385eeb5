/**
 * Names of a shuffle's objects. Ids are derived from (job, mapper, partition), so every process
 * computes them on its own and no directory of ids is ever exchanged; a job's objects can be
 * listed (and deleted) from its shape alone.
 */
import { randomBytes } from 'node:crypto';
import { ObjectId } from '../protocol/object-id.js';

/** The shape of a shuffle job: M mappers each write P partitions. */
export interface ShuffleShape {
  job: string;
  mappers: number;
  partitions: number;
}

/** A fresh job name: short, random, safe in object names and file names. */
export function newJobId(): string {
  return randomBytes(6).toString('hex');
}

/** Partition p written by mapper m. */
export function partitionObjectId(job: string, mapper: number, partition: number): ObjectId {
  return ObjectId.fromName(`shuffle/${job}/m${mapper}/p${partition}`);
}

/** A mapper's "done" manifest, sealed after all its partitions: its absence means the mapper failed. */
export function manifestObjectId(job: string, mapper: number): ObjectId {
  return ObjectId.fromName(`shuffle/${job}/m${mapper}/done`);
}

/** The input of mapper m when it is placed in the mapper's store (the data its node "produced"). */
export function inputObjectId(job: string, mapper: number): ObjectId {
  return ObjectId.fromName(`shuffle/${job}/input/m${mapper}`);
}

/** Every object a job can have created: inputs, partitions and manifests. */
export function jobObjectIds(shape: ShuffleShape): ObjectId[] {
  const ids: ObjectId[] = [];
  for (let m = 0; m < shape.mappers; m++) {
    ids.push(inputObjectId(shape.job, m), manifestObjectId(shape.job, m));
    for (let p = 0; p < shape.partitions; p++) ids.push(partitionObjectId(shape.job, m, p));
  }
  return ids;
}

/** Job names become part of object names and socket paths: keep them simple. */
export function checkJobName(job: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(job)) {
    throw new TypeError(`a shuffle job name is 1-64 letters, digits, '_', '.' or '-', got ${JSON.stringify(job)}`);
  }
}
