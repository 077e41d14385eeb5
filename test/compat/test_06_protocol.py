"""Protocol-level checks with hand-built frames, for what pyarrow does not expose
or does not show: batch creates, abort, RefreshLRU, quotas, the debug string,
and the exact shape of replies (docs §2-§5, §10)."""

import os
import threading
import time

import pytest

from compat_util import new_id, payload, put_bytes, read_bytes, wait_until
from plasma_raw import RawConnection, read_notification
from plasma_wire import (NOT_AVAILABLE, Err, Msg, abort_request, create_and_seal_batch_request,
                         delete_request, evict_request, refresh_lru_request, set_options_request)

MIB = 1024 * 1024


def raw(store) -> RawConnection:
    conn = RawConnection(store.socket)
    assert conn.connect() == store.capacity
    return conn


def rid() -> bytes:
    return os.urandom(20)


# --- replies the pyarrow client reads without showing them ---------------------------

def test_create_reply_layout_and_fd_passing(store):
    with raw(store) as conn:
        err, spec = conn.create(rid(), 1000, 24)
        assert err == Err.OK
        assert spec["metadata_offset"] == spec["data_offset"] + 1000
        assert (spec["data_size"], spec["metadata_size"], spec["device"]) == (1000, 24, 0)
        assert spec["store_fd"] == spec["segment"], "store_fd and segment_index share one id space"
        assert spec["data_offset"] + 1024 <= spec["mmap_size"] - 8, "object inside the mapping (§4.5)"
        assert len(conn.fds) == 1, "one fd for the first create on a connection"
        err, spec2 = conn.create(rid(), 10)
        assert err == Err.OK
        if spec2["store_fd"] == spec["store_fd"]:
            assert len(conn.fds) == 1, "no fd for a segment this connection already has"
        assert conn.connect() == store.capacity  # the stream is still in step


def test_get_reply_layout(store, client):
    a = put_bytes(client, payload(3000, 1), b"AAA")
    b = put_bytes(client, payload(10, 2))
    missing = rid()
    with raw(store) as conn:
        ids, specs, store_fds, sizes = conn.get([a.binary(), missing, b.binary()], 0)
        assert ids == [a.binary(), missing, b.binary()], "positions echo the request"
        assert specs[1] == (0, 0, NOT_AVAILABLE, 0, 0, 0), "placeholder: data_size -1, rest 0"
        assert len(set(store_fds)) == len(store_fds), "store_fds are distinct"
        assert {specs[0][0], specs[2][0]} <= set(store_fds)
        assert len(conn.fds) == len(store_fds)
        for spec, data, meta in ((specs[0], payload(3000, 1), b"AAA"), (specs[2], payload(10, 2), b"")):
            seg, off, size, _moff, msize, dev = spec
            assert (size, msize, dev) == (len(data), len(meta), 0)
            assert off + size + msize <= sizes[store_fds.index(seg)] - 8
            assert conn.read_object(spec) == data + meta, "the fd maps the object's bytes"
        fds_before = len(conn.fds)
        conn.get([a.binary()], 0)
        assert len(conn.fds) == fds_before, "an fd is passed once per connection (§4.2)"
        assert conn.connect() == store.capacity


def test_release_gets_no_reply_and_drops_the_reference(store, client):
    a = put_bytes(client, payload(100))
    with raw(store) as conn:
        conn.get([a.binary()], 0)
        assert client.list()[a]["ref_count"] == 1
        conn.release(a.binary())
        assert conn.connect() == store.capacity, "the next frame is the ConnectReply"
        assert client.list()[a]["ref_count"] == 0


def test_list_reply_carries_the_digest_the_client_computed(store, client):
    sealed = put_bytes(client, payload(5000, 3), b"m")
    unsealed = new_id()
    buf = client.create(unsealed, 10)
    with raw(store) as conn:
        infos = {i.object_id: i for i in conn.list()}
    assert infos[sealed.binary()].digest == client.hash(sealed)
    assert infos[unsealed.binary()].digest == b"", "empty but present for unsealed (§2.6)"
    assert infos[unsealed.binary()].construct_duration == -1
    del buf


def test_delete_reply_reports_a_code_per_id(store, client, client2):
    gone = put_bytes(client, payload(10))
    held = put_bytes(client, payload(10))
    [keep] = client2.get_buffers([held], timeout_ms=0)
    unsealed = new_id()
    buf = client.create(unsealed, 10)
    ids = [gone.binary(), rid(), held.binary(), unsealed.binary()]
    with raw(store) as conn:
        reply = conn.request(Msg.DeleteRequest, delete_request(ids), Msg.DeleteReply)
    assert reply.i32(0) == 4
    assert reply.strvec(1) == ids
    assert reply.scalarvec(2, "<i") == [Err.OK, Err.ObjectNotFound, Err.ObjectInUse,
                                        Err.ObjectNotSealed]
    # Deferred deletes fire on release / after seal and release.
    del keep
    assert not client2.contains(held)
    client.seal(unsealed)
    del buf
    assert not client.contains(unsealed)


def test_evict_reply_counts_bytes(store, client):
    for i in range(3):
        put_bytes(client, payload(1000 * (i + 1)))
    with raw(store) as conn:
        reply = conn.request(Msg.EvictRequest, evict_request(2500), Msg.EvictReply)
        assert reply.u64(0) == 3000
        reply = conn.request(Msg.EvictRequest, evict_request(2**62), Msg.EvictReply)
        assert reply.u64(0) == 3000, "evicts everything left"


def test_raw_subscriber_gets_existing_then_new_objects(store, client):
    old = put_bytes(client, payload(7))
    with raw(store) as conn:
        sock = conn.subscribe()
        [info] = read_notification(sock)
        assert (info.object_id, info.data_size, info.is_deletion) == (old.binary(), 7, False)
        new = put_bytes(client, payload(8))
        [info] = read_notification(sock)
        assert (info.object_id, info.data_size) == (new.binary(), 8)
        assert info.digest == client.hash(new)
        client.delete([new])
        [info] = read_notification(sock)
        assert (info.object_id, info.is_deletion) == (new.binary(), True)
        sock.close()


# --- CreateAndSealBatch (C++ API only) ------------------------------------------------

@pytest.mark.needs_batch
def test_create_and_seal_batch_sends_one_notification_frame(store, client):
    ids = [rid() for _ in range(5)]
    datas = [payload(100 * i, i) for i in range(5)]
    metas = [b"m" * i for i in range(5)]
    with raw(store) as watcher, raw(store) as conn:
        sock = watcher.subscribe()
        # Subscribe has no reply: one round trip on the same connection guarantees the store has
        # registered the subscription before the batch arrives on another connection.
        watcher.connect()
        reply = conn.request(Msg.CreateAndSealBatchRequest,
                             create_and_seal_batch_request(ids, datas, metas, [b"\0" * 8] * 5),
                             Msg.CreateAndSealBatchReply)
        assert reply.i32(0) == Err.OK
        infos = read_notification(sock)
        assert [(i.object_id, i.data_size, i.metadata_size) for i in infos] == \
            [(ids[k], 100 * k, k) for k in range(5)], "one frame, N infos, batch order (§5.3)"
        sock.close()
    import pyarrow.plasma as plasma
    got = client.get_buffers([plasma.ObjectID(i) for i in ids], timeout_ms=0, with_meta=True)
    assert [(bytes(m), bytes(d)) for m, d in got] == list(zip(metas, datas))
    assert all(info["ref_count"] == 1 for info in client.list().values()), \
        "the batch creator holds no reference"


@pytest.mark.needs_batch
def test_create_and_seal_batch_failure_creates_nothing(store, client):
    existing = put_bytes(client, payload(10))
    ids = [rid(), existing.binary(), rid()]
    with raw(store) as conn:
        reply = conn.request(Msg.CreateAndSealBatchRequest,
                             create_and_seal_batch_request(ids, [b"a", b"b", b"c"], [b""] * 3,
                                                           [b"\0" * 8] * 3),
                             Msg.CreateAndSealBatchReply)
        assert reply.i32(0) == Err.ObjectExists
        assert not conn.contains(ids[0]) and not conn.contains(ids[2])
        assert {i.object_id for i in conn.list()} == {existing.binary()}
    assert read_bytes(client, existing) == payload(10)


# --- Abort (C++ API only) ---------------------------------------------------------------

@pytest.mark.needs_abort
def test_abort_frees_the_object_and_the_id_is_reusable(store, client):
    oid = rid()
    with raw(store) as conn:
        for round in range(3):
            err, spec = conn.create(oid, 50_000)
            assert err == Err.OK, f"round {round}: the id must be free again after abort"
            reply = conn.request(Msg.AbortRequest, abort_request(oid), Msg.AbortReply)
            assert reply.str(0) == oid
            assert not conn.contains(oid)
            assert oid not in {i.object_id for i in conn.list()}
        err, spec = conn.create(oid, 5)
        conn.write_object(spec, b"final")
        assert conn.seal(oid) == Err.OK
    import pyarrow.plasma as plasma
    assert read_bytes(client, plasma.ObjectID(oid)) == b"final"


@pytest.mark.needs_abort
def test_abort_leaves_other_clients_waiting(store, client):
    import pyarrow.plasma as plasma
    oid = rid()
    result = []
    waiter_client = store.client()
    t = threading.Thread(target=lambda: result.append(
        read_bytes(waiter_client, plasma.ObjectID(oid), timeout_ms=20_000)), daemon=True)
    with raw(store) as conn:
        assert conn.create(oid, 10)[0] == Err.OK
        t.start()
        time.sleep(0.2)
        conn.request(Msg.AbortRequest, abort_request(oid), Msg.AbortReply)
        time.sleep(0.2)
        assert t.is_alive(), "an abort must not answer the waiting get"
        err, spec = conn.create(oid, 6)
        conn.write_object(spec, b"second")
        conn.seal(oid)
    t.join(10)
    assert result == [b"second"]


# --- RefreshLRU (C++ API only) -------------------------------------------------------------

@pytest.mark.needs_refresh_lru
def test_refresh_lru_protects_objects_from_eviction(start):
    store = start(1_000_000)
    client = store.client()
    ids = [put_bytes(client, payload(100_000, i)) for i in range(9)]
    with raw(store) as conn:
        reply = conn.request(Msg.RefreshLRURequest,
                             refresh_lru_request([ids[0].binary(), ids[1].binary(), rid()]),
                             Msg.RefreshLRUReply)
        assert reply.buf is not None
    put_bytes(client, payload(200_000))  # evicts max(100 kB, 20 %) from the LRU end
    assert [client.contains(i) for i in ids] == [True, True, False, False] + [True] * 5


# --- SetOptions quotas and the debug string (§10) ------------------------------------------

@pytest.mark.needs_quota
def test_set_options_quota_is_capped_at_70_percent(start):
    store = start(10 * MIB)
    with raw(store) as a, raw(store) as b:
        def set_quota(conn, name, q):
            return conn.request(Msg.SetOptionsRequest, set_options_request(name, q),
                                Msg.SetOptionsReply).i32(0)
        assert set_quota(a, b"a", 8 * MIB) == Err.OutOfMemory
        assert set_quota(a, b"a", 5 * MIB) == Err.OK
        assert set_quota(a, b"a", 1 * MIB) == Err.OutOfMemory, "a client gets one quota"
        assert set_quota(b, b"b", 3 * MIB) == Err.OutOfMemory, "global would drop below 30 %"
        assert set_quota(b, b"b", 1 * MIB) == Err.OK


@pytest.mark.needs_quota
def test_quota_client_evicts_its_own_objects_first(start):
    import pyarrow.plasma as plasma
    store = start(10 * MIB)
    quota_client, other = store.client(), store.client()
    quota_client.set_client_options("q", 5 * MIB)
    bystander = put_bytes(other, payload(1 * MIB, 9))
    first, second = new_id(), new_id()
    quota_client.create_and_seal(first, payload(3 * MIB, 1))
    quota_client.create_and_seal(second, payload(3 * MIB, 2))
    assert not other.contains(first), "the quota client's own LRU object goes first"
    assert other.contains(second) and other.contains(bystander)
    with pytest.raises(plasma.PlasmaStoreFull):
        quota_client.create_and_seal(new_id(), payload(7 * MIB))
    quota_client.create_and_seal(new_id(), payload(4 * MIB))
    assert other.contains(bystander), "a quota client's churn never evicts others"


@pytest.mark.needs_debug_string
@pytest.mark.needs_quota
def test_debug_string_format(start):
    store = start(10 * MIB)
    client = store.client()
    with raw(store) as conn:
        assert conn.debug_string().splitlines() == [
            "num clients with quota: 0",
            "quota map size: 0",
            "pinned quota map size: 0",
            "allocated bytes: 0",
            "allocation limit: 10485760",
            "pinned bytes: 0",
            "(global lru) capacity: 10485760",
            "(global lru) used: 0%",
            "(global lru) num objects: 0",
            "(global lru) num evictions: 0",
            "(global lru) bytes evicted: 0",
        ]
        client.set_client_options("local", 5 * MIB)
        client.create_and_seal(new_id(), payload(1000))
        text = conn.debug_string()
    lines = text.splitlines()
    for expected in ["num clients with quota: 1", "quota map size: 1", "allocated bytes: 1000",
                     "allocation limit: 10485760", "(global lru) capacity: 5242880",
                     "(global lru) used: 50%", "(local) capacity: 5242880",
                     "(local) used: 0.0190735%", "(local) num objects: 1"]:
        assert expected in lines, f"{expected!r} missing from:\n{text}"
    assert "num clients with quota: 1" in client.debug_string().splitlines()
    client.disconnect()
    watcher = store.client()
    wait_until(lambda: "num clients with quota: 0" in watcher.debug_string().splitlines(),
               what="quota released after disconnect")
