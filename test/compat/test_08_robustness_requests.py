"""Robustness, part 2: well-formed requests on the wrong objects, odd gets and
timeouts, subscriptions, clients that vanish (see robustness_arena.py)."""

from __future__ import annotations

import os
import socket
import struct
import time

import pyarrow.plasma as plasma
import pytest

from compat_util import new_id, put_bytes, read_bytes
from plasma_raw import Closed, RawConnection, read_notification
from plasma_wire import (SPEC, Err, Msg, abort_request, connect_request, create_request, frame,
                         get_request, seal_request, subscribe_request, table)
from robustness_arena import (CAPACITY, arena, bad, checked, closed_or_error_reply,  # noqa: F401
                              finish, only_plasmapool)


# --- lifecycle requests on the wrong objects ------------------------------------------------

@only_plasmapool
def test_seal_of_unknown_object(arena):
    oid = os.urandom(20)
    out = bad(arena, frame(Msg.SealRequest, seal_request(oid)))
    closed_or_error_reply(out, Msg.SealReply,
                          lambda v: v.str(0) == oid and v.i32(1) in (Err.ObjectExists,
                                                                     Err.ObjectNotFound))


@only_plasmapool
def test_seal_twice(arena):
    oid = os.urandom(20)
    with RawConnection(arena.store.socket) as conn:
        assert conn.create(oid, 4)[0] == Err.OK
        assert conn.seal(oid) == Err.OK
        conn.send(Msg.SealRequest, seal_request(oid))
        closed_or_error_reply(conn.outcome(5), Msg.SealReply,
                              lambda v: v.i32(1) in (Err.ObjectExists, Err.ObjectNotFound))
    assert arena.good.contains(plasma.ObjectID(oid))


@only_plasmapool
def test_seal_of_a_sealed_object_of_another_client(arena):
    victim = next(iter(arena.objects))
    out = bad(arena, frame(Msg.SealRequest, seal_request(victim.binary(), b"\xee" * 8)))
    closed_or_error_reply(out, Msg.SealReply, lambda v: v.i32(1) != Err.OK)


@only_plasmapool
def test_abort_of_unknown_object(arena):
    oid = os.urandom(20)
    out = bad(arena, frame(Msg.AbortRequest, abort_request(oid)))
    closed_or_error_reply(out, Msg.AbortReply, lambda v: v.str(0) == oid)


@only_plasmapool
def test_abort_of_a_sealed_object_keeps_it(arena):
    victim = next(iter(arena.objects))
    out = bad(arena, frame(Msg.AbortRequest, abort_request(victim.binary())))
    closed_or_error_reply(out, Msg.AbortReply)


@only_plasmapool
def test_abort_of_another_clients_unsealed_object_keeps_it(arena):
    oid = new_id()
    buf = arena.good.create(oid, 6)
    out = bad(arena, frame(Msg.AbortRequest, abort_request(oid.binary())))
    closed_or_error_reply(out, Msg.AbortReply)
    memoryview(buf).cast("B")[:] = b"intact"
    arena.good.seal(oid)
    del buf
    assert read_bytes(arena.reader, oid) == b"intact"
    arena.good.delete([oid])


@only_plasmapool
def test_release_of_unknown_and_foreign_objects_is_ignored(arena):
    victim = next(iter(arena.objects))
    refs = arena.good.list()[victim]["ref_count"]
    with RawConnection(arena.store.socket) as conn:
        conn.release(os.urandom(20))
        conn.release(victim.binary())
        out = conn.outcome(0.3)
        assert out == "open", f"a release of an object this client does not hold must be " \
                              f"ignored (§3.7, §13), got {out}"
        assert conn.connect() == CAPACITY
    assert arena.good.list()[victim]["ref_count"] == refs, "someone else's reference was dropped"


@only_plasmapool
def test_release_with_a_malformed_id(arena):
    with RawConnection(arena.store.socket) as conn:
        conn.release(b"bad id")
        try:
            conn.send(Msg.ConnectRequest, connect_request())
            out = conn.outcome(3)
        except Closed:
            out = "closed"
        assert out == "closed" or out[0] == Msg.ConnectReply, f"unexpected {out}"


@only_plasmapool
def test_release_twice_is_ignored(arena):
    victim = next(iter(arena.objects))
    with RawConnection(arena.store.socket) as conn:
        conn.get([victim.binary()], 0)
        conn.release(victim.binary())
        conn.release(victim.binary())
        assert conn.connect() == CAPACITY
    assert arena.good.list()[victim]["ref_count"] == 1, "only the arena's own reference remains"


@only_plasmapool
def test_duplicate_ids_in_one_get(arena):
    a, b = list(arena.objects)[3:5]
    later = new_id()
    with RawConnection(arena.store.socket) as conn:
        ids, specs, _, _ = conn.get([a.binary(), a.binary(), b.binary()], 0)
        assert ids == [a.binary(), a.binary(), b.binary()], "every position is echoed"
        assert specs[0] == specs[1] and specs[2][2] == len(arena.objects[b][1])
        missing = os.urandom(20)
        ids, specs, _, _ = conn.get([a.binary(), missing, a.binary(), missing], 50)
        assert [s[2] for s in specs][1::2] == [2**64 - 1] * 2
        conn.send(Msg.GetRequest, get_request([later.binary(), later.binary()], -1))
        time.sleep(0.2)
        put_bytes(arena.good, b"later", oid=later)
        reply = conn.recv_reply(Msg.GetReply)
        specs = reply.structvec(1, SPEC)
        assert [s[2] for s in specs] == [5, 5], "both positions present once sealed"
        for fd in reply.scalarvec(2, "<i"):
            if fd not in conn.segments:
                conn.segments[fd] = conn.recv_fd()
        for oid in (a, b, later):
            conn.release(oid.binary())
        assert conn.connect() == CAPACITY
    assert arena.good.list()[later]["ref_count"] == 0
    arena.good.delete([later])


@pytest.mark.parametrize("timeout_ms", [-5, -(2**63)])
def test_negative_timeouts_other_than_minus_one_do_not_block(arena, timeout_ms):
    with RawConnection(arena.store.socket) as conn:
        ids, specs, _, _ = conn.get([os.urandom(20)], timeout_ms, timeout=5)
        assert specs[0][2] == 2**64 - 1


@pytest.mark.parametrize("timeout_ms", [2**31, 2**40, 2**63 - 1])
def test_huge_timeouts_wait_instead_of_firing_early(arena, timeout_ms):
    oid = new_id()
    with RawConnection(arena.store.socket) as conn:
        conn.send(Msg.GetRequest, get_request([oid.binary()], timeout_ms))
        assert conn.outcome(0.5) == "open", "a huge timeout fired at once (§13: clamp it)"
        put_bytes(arena.good, b"xyz", oid=oid)
        reply = conn.recv_reply(Msg.GetReply)
        assert reply.structvec(1, SPEC)[0][2] == 3
        for fd in reply.scalarvec(2, "<i"):
            if fd not in conn.segments:
                conn.segments[fd] = conn.recv_fd()
        conn.release(oid.binary())
        assert conn.connect() == CAPACITY
    arena.good.delete([oid])


# --- subscriptions ------------------------------------------------------------------------

@only_plasmapool
def test_second_subscribe_keeps_the_first_and_the_stream_in_step(arena):
    with RawConnection(arena.store.socket) as conn:
        first = conn.subscribe()
        second = conn.subscribe()
        assert conn.connect() == CAPACITY, "the extra fd byte must be consumed"
        seen = set()
        oid = put_bytes(arena.good, b"notify me")
        while oid.binary() not in seen:
            seen.update(i.object_id for i in read_notification(first, timeout=5))
        second.settimeout(0.3)
        try:
            data = second.recv(1 << 16)
            assert data == b"", "the second subscription must not get notifications"
        except socket.timeout:
            pass
        first.close()
        second.close()
    arena.good.delete([oid])


@only_plasmapool
def test_subscribe_without_an_fd(arena):
    with RawConnection(arena.store.socket) as conn:
        conn.send(Msg.SubscribeRequest, subscribe_request())
        conn.send(Msg.ConnectRequest, connect_request())
        out = conn.outcome(3)
        # The store may read the frame's first byte as the fd carrier and close,
        # or wait; it must not hang its event loop (checked by the arena).
        assert out in ("closed", "open") or out[0] == Msg.ConnectReply


def test_subscriber_that_never_reads(arena):
    with RawConnection(arena.store.socket) as conn:
        sock = conn.subscribe()  # never read: the queue grows, the store must not block
        for _ in range(2000):
            arena.good.create_and_seal(new_id(), b"n" * 100)
        assert conn.connect() == CAPACITY
        sock.close()


def test_many_abrupt_disconnects(arena):
    leftovers = []
    for i in range(60):
        conn = RawConnection(arena.store.socket)
        kind = i % 4
        if kind == 0:
            conn.send_raw(frame(Msg.CreateRequest, create_request(os.urandom(20), 10))[:7])
        elif kind == 1:
            oid = os.urandom(20)
            assert conn.create(oid, 1000)[0] == Err.OK  # unsealed: aborted on disconnect
            leftovers.append(oid)
        elif kind == 2:
            conn.send(Msg.GetRequest, get_request([os.urandom(20)], -1))
        else:
            conn.send(Msg.ListRequest, table())
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with RawConnection(arena.store.socket) as conn:
            ids = {i.object_id for i in conn.list()}
        if not ids & set(leftovers):
            break
        time.sleep(0.05)
    assert not ids & set(leftovers), "unsealed objects of dead clients were not aborted"


def test_zz_store_survived_and_exits_cleanly(arena):
    finish(arena)
