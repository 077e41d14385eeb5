"""Robustness, part 1: malformed frames and messages, ids of the wrong length,
impossible sizes (see robustness_arena.py for the set-up and the invariants)."""

from __future__ import annotations

import os
import struct

import pyarrow.plasma as plasma
import pytest

from compat_util import payload
from plasma_raw import RawConnection
from plasma_wire import (HEADER, Err, Msg, connect_request, contains_request,
                         create_and_seal_batch_request, create_and_seal_request, create_request,
                         delete_request, frame, get_request, seal_request, table)
from robustness_arena import (CAPACITY, arena, bad, checked, closed_or_error_reply,  # noqa: F401
                              finish, only_plasmapool)


# --- framing --------------------------------------------------------------------------

@only_plasmapool
@pytest.mark.parametrize("version", [1, -1, 2**62])
def test_wrong_protocol_version_closes_the_connection(arena, version):
    assert bad(arena, frame(Msg.ConnectRequest, connect_request(), version=version)) == "closed"


@only_plasmapool
@pytest.mark.parametrize("msg_type", [0, 2, 12, 24, 25, 26, 27, 36, 999, -1, 2**40])
def test_unknown_or_reply_message_types_close_the_connection(arena, msg_type):
    assert bad(arena, frame(msg_type, connect_request())) == "closed"


@only_plasmapool
@pytest.mark.parametrize("length", [2**62, 2**63 - 1, 2**40, -1, -(2**63)])
def test_absurd_frame_lengths_close_the_connection(arena, length):
    assert bad(arena, HEADER.pack(0, Msg.CreateRequest, length), timeout=3) == "closed", \
        "a store must not wait for (or allocate) an absurd frame body (§1.2)"


def test_frame_cut_off_mid_body_is_dropped_cleanly(arena):
    body = create_request(os.urandom(20), 100)
    out = bad(arena, frame(Msg.CreateRequest, body)[: HEADER.size + 5], shut_wr=True)
    assert out == "closed"


def test_connection_closed_mid_header(arena):
    assert bad(arena, HEADER.pack(0, Msg.CreateRequest, 40)[:11], shut_wr=True) == "closed"


GARBAGE = {
    "ff": b"\xff" * 64,
    "zeros": b"\0" * 64,
    "root_out_of_bounds": struct.pack("<I", 10_000) + b"\0" * 28,
    "vtable_out_of_bounds": struct.pack("<Ii", 4, -100_000) + b"\0" * 24,
    "too_short": b"\x01\x02",
    "empty": b"",
}


@only_plasmapool
@pytest.mark.parametrize("garbage", list(GARBAGE), ids=list(GARBAGE))
@pytest.mark.parametrize("msg_type,reply", [
    (Msg.CreateRequest, Msg.CreateReply), (Msg.GetRequest, Msg.GetReply),
    (Msg.SealRequest, Msg.SealReply), (Msg.ContainsRequest, Msg.ContainsReply),
    (Msg.DeleteRequest, Msg.DeleteReply), (Msg.CreateAndSealRequest, Msg.CreateAndSealReply),
    (Msg.CreateAndSealBatchRequest, Msg.CreateAndSealBatchReply)],
    ids=lambda v: v.name if isinstance(v, Msg) else None)
def test_malformed_flatbuffers_are_rejected(arena, msg_type, reply, garbage):
    out = bad(arena, frame(msg_type, GARBAGE[garbage]))
    # An all-defaults table may be a legal (empty) request for some types; anything
    # that is answered must be an error or an empty result, never a crash.
    closed_or_error_reply(out, reply)


@only_plasmapool
def test_truncated_flatbuffer_with_consistent_length(arena):
    body = create_and_seal_request(os.urandom(20), payload(5000), b"meta", b"\0" * 8)
    out = bad(arena, frame(Msg.CreateAndSealRequest, body[: len(body) // 2]))
    closed_or_error_reply(out, Msg.CreateAndSealReply, lambda v: v.i32(0) != Err.OK)


@only_plasmapool
def test_vector_length_beyond_the_buffer(arena):
    body = bytearray(get_request([os.urandom(20)], 0))
    # Find the object_ids vector (one element) and claim 2^31 - 1 elements.
    pos = body.find(struct.pack("<I", 1))
    body[pos:pos + 4] = struct.pack("<I", 2**31 - 1)
    closed_or_error_reply(bad(arena, frame(Msg.GetRequest, bytes(body))), Msg.GetReply)


@only_plasmapool
def test_fd_sent_where_none_is_expected(arena):
    r, w = os.pipe()
    try:
        with RawConnection(arena.store.socket) as conn:
            conn.send_fd(r)
            conn.send(Msg.ConnectRequest, connect_request())
            out = conn.outcome(5)
            assert out == "closed" or out[0] == Msg.ConnectReply
    finally:
        os.close(r)
        os.close(w)


# --- object ids of the wrong length ---------------------------------------------------

BAD_IDS = [b"", b"short", b"x" * 19, b"y" * 21, b"z" * 1000]


@only_plasmapool
@pytest.mark.parametrize("oid", BAD_IDS, ids=lambda b: f"len{len(b)}")
def test_object_ids_of_wrong_length(arena, oid):
    good = os.urandom(20)
    cases = [
        (Msg.CreateRequest, create_request(oid, 10), Msg.CreateReply,
         lambda v: v.i32(2) != Err.OK),
        (Msg.CreateAndSealRequest, create_and_seal_request(oid, b"data"), Msg.CreateAndSealReply,
         lambda v: v.i32(0) != Err.OK),
        (Msg.ContainsRequest, contains_request(oid), Msg.ContainsReply, lambda v: v.i32(1) == 0),
        (Msg.SealRequest, seal_request(oid), Msg.SealReply, lambda v: v.i32(1) != Err.OK),
        (Msg.GetRequest, get_request([good, oid], 0), Msg.GetReply, lambda v: True),
        (Msg.DeleteRequest, delete_request([oid]), Msg.DeleteReply, lambda v: True),
        (Msg.CreateAndSealBatchRequest,
         create_and_seal_batch_request([good, oid], [b"a", b"b"], [b"", b""], [b"\0" * 8] * 2),
         Msg.CreateAndSealBatchReply, lambda v: v.i32(0) != Err.OK),
    ]
    for msg_type, body, reply, ok in cases:
        closed_or_error_reply(bad(arena, frame(msg_type, body)), reply, ok)
    assert not arena.good.contains(plasma.ObjectID(good)), "half a bad batch was created"


# --- sizes and capacity ------------------------------------------------------------------

@pytest.mark.parametrize("data_size,metadata_size", [
    (CAPACITY + 1, 0), (CAPACITY, 1), (0, CAPACITY + 1),
    pytest.param(2**63 - 1, 0, marks=only_plasmapool),
    pytest.param(2**64 - 1, 0, marks=only_plasmapool),
    pytest.param(2**63, 2**63, marks=only_plasmapool),
    pytest.param(2**62, 2**62, marks=only_plasmapool)])
def test_create_beyond_capacity_replies_out_of_memory(arena, data_size, metadata_size):
    oid = os.urandom(20)
    with RawConnection(arena.store.socket) as conn:
        reply = conn.request(Msg.CreateRequest, create_request(oid, data_size, metadata_size),
                             Msg.CreateReply)
        assert reply.i32(2) == Err.OutOfMemory
        assert reply.str(0) is not None and reply.has(1), "object_id and plasma_object (§2.6)"
        assert conn.connect() == CAPACITY, "no fd followed and the connection is usable"
        assert not conn.contains(oid)


def test_create_and_seal_larger_than_capacity(arena):
    oid = os.urandom(20)
    with RawConnection(arena.store.socket) as conn:
        reply = conn.request(Msg.CreateAndSealRequest,
                             create_and_seal_request(oid, b"\1" * (CAPACITY + 10)),
                             Msg.CreateAndSealReply)
        assert reply.i32(0) == Err.OutOfMemory
        assert not conn.contains(oid)


def test_create_on_a_cuda_device_is_refused(arena):
    with RawConnection(arena.store.socket) as conn:
        reply = conn.request(Msg.CreateRequest, create_request(os.urandom(20), 10, device_num=1),
                             Msg.CreateReply)
        assert reply.i32(2) == Err.OutOfMemory, "no CUDA: OutOfMemory (§3.2)"
        assert conn.connect() == CAPACITY


# --- inconsistent requests ---------------------------------------------------------------

@only_plasmapool
def test_batch_with_mismatched_vectors(arena):
    ids = [os.urandom(20) for _ in range(3)]
    body = create_and_seal_batch_request(ids, [b"a", b"b"], [b""], [b"\0" * 8] * 3)
    closed_or_error_reply(bad(arena, frame(Msg.CreateAndSealBatchRequest, body)),
                          Msg.CreateAndSealBatchReply, lambda v: v.i32(0) != Err.OK)
    assert not any(arena.good.contains(plasma.ObjectID(i)) for i in ids)


@only_plasmapool
def test_delete_count_that_disagrees_with_the_ids(arena):
    victim = next(iter(arena.objects))
    body = table((0, "i32", 5), (1, "strvec", [victim.binary()]))
    out = bad(arena, frame(Msg.DeleteRequest, body))
    if out != "closed":
        closed_or_error_reply(out, Msg.DeleteReply, lambda v: v.i32(0) == len(v.strvec(1) or []))


@only_plasmapool
def test_digest_of_the_wrong_length(arena):
    oid = os.urandom(20)
    out = bad(arena, frame(Msg.CreateAndSealRequest,
                           create_and_seal_request(oid, b"data", b"", b"\1" * 3)))
    closed_or_error_reply(out, Msg.CreateAndSealReply)


def test_zz_store_survived_and_exits_cleanly(arena):
    finish(arena)
