/**
 * Every request and reply through the wire and back: client-codec ↔ store-codec.
 */
import { describe, expect, it } from 'vitest';
import { decodeNotification, decodeReply, encodeRequest } from '../../src/protocol/client-codec.js';
import { MessageType, type Reply, type Request } from '../../src/protocol/messages.js';
import { decodeRequest, encodeNotification, encodeReply } from '../../src/protocol/store-codec.js';
import { ids, infos, replies, requests } from './fixtures.js';

const requestType: Record<Request['kind'], number> = {
  connect: MessageType.ConnectRequest,
  create: MessageType.CreateRequest,
  createAndSeal: MessageType.CreateAndSealRequest,
  createAndSealBatch: MessageType.CreateAndSealBatchRequest,
  abort: MessageType.AbortRequest,
  seal: MessageType.SealRequest,
  get: MessageType.GetRequest,
  release: MessageType.ReleaseRequest,
  delete: MessageType.DeleteRequest,
  contains: MessageType.ContainsRequest,
  list: MessageType.ListRequest,
  evict: MessageType.EvictRequest,
  subscribe: MessageType.SubscribeRequest,
  setOptions: MessageType.SetOptionsRequest,
  debugString: MessageType.GetDebugStringRequest,
  refreshLru: MessageType.RefreshLRURequest,
};

const replyType: Record<Reply['kind'], number> = {
  connect: MessageType.ConnectReply,
  create: MessageType.CreateReply,
  createAndSeal: MessageType.CreateAndSealReply,
  createAndSealBatch: MessageType.CreateAndSealBatchReply,
  abort: MessageType.AbortReply,
  seal: MessageType.SealReply,
  get: MessageType.GetReply,
  delete: MessageType.DeleteReply,
  contains: MessageType.ContainsReply,
  list: MessageType.ListReply,
  evict: MessageType.EvictReply,
  setOptions: MessageType.SetOptionsReply,
  debugString: MessageType.GetDebugStringReply,
  refreshLru: MessageType.RefreshLRUReply,
};

describe('requests: encodeRequest → decodeRequest', () => {
  it('covers every request kind', () => {
    expect(new Set(requests.map((r) => r.kind))).toEqual(new Set(Object.keys(requestType)));
  });

  it.each(requests.map((r, i) => [`${i}: ${r.kind}`, r] as const))('%s', (_name, req) => {
    const { type, body } = encodeRequest(req);
    expect(type).toBe(requestType[req.kind]);
    expect(decodeRequest(type, body)).toEqual(req);
  });

  it('keeps binary ids byte for byte', () => {
    const { type, body } = encodeRequest({ kind: 'get', objectIds: [ids.zeros, ids.ones, ids.mixed], timeoutMs: 0 });
    const decoded = decodeRequest(type, body);
    expect(decoded.kind === 'get' && decoded.objectIds.map((id) => id.hex)).toEqual([ids.zeros.hex, ids.ones.hex, ids.mixed.hex]);
  });

  it('returns inline data as views of the body, ids and digests as copies', () => {
    const req = requests.find((r) => r.kind === 'createAndSeal')!;
    const { type, body } = encodeRequest(req);
    const decoded = decodeRequest(type, body);
    if (decoded.kind !== 'createAndSeal') throw new Error('wrong kind');
    expect(decoded.data.buffer).toBe(body.buffer);
    expect(decoded.digest.buffer).not.toBe(body.buffer);
    expect(decoded.objectId.bytes.buffer).not.toBe(body.buffer);
  });
});

describe('replies: encodeReply → decodeReply', () => {
  it('covers every reply kind', () => {
    expect(new Set(replies.map((r) => r.kind))).toEqual(new Set(Object.keys(replyType)));
  });

  it.each(replies.map((r, i) => [`${i}: ${r.kind}`, r] as const))('%s', (_name, reply) => {
    const { type, body } = encodeReply(reply);
    expect(type).toBe(replyType[reply.kind]);
    expect(decodeReply(type, body)).toEqual(reply);
  });

  it('zeroes the object spec, fd and map size of a failed create (§3.2)', () => {
    const failed: Reply = {
      kind: 'create',
      objectId: ids.mixed,
      object: { segmentIndex: 5, dataOffset: 64, dataSize: 50, metadataOffset: 114, metadataSize: 0, deviceNum: 0 },
      error: 3,
      storeFd: 5,
      mmapSize: 1 << 20,
    };
    const { type, body } = encodeReply(failed);
    expect(decodeReply(type, body)).toEqual({
      kind: 'create',
      objectId: ids.mixed,
      object: { segmentIndex: 0, dataOffset: 0, dataSize: 0, metadataOffset: 0, metadataSize: 0, deviceNum: 0 },
      error: 3,
      storeFd: 0,
      mmapSize: 0,
    });
  });
});

describe('notifications: encodeNotification → decodeNotification', () => {
  it('round-trips a seal, a deletion and a batch', () => {
    for (const batch of [[infos.sealedInfo], [infos.deletionInfo], [infos.sealedInfo, infos.unsealedInfo, infos.deletionInfo], []]) {
      expect(decodeNotification(encodeNotification(batch))).toEqual(batch);
    }
  });
});
