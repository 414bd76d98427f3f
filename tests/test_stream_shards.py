"""Reading a DynamoDB stream's shards, with faults DynamoDB Local cannot produce: a shard split (a
closed parent and its children, listed children first), an iterator that expires, a position past
the trim horizon. The stream is an in-memory fake with the `dynamodbstreams` client's calls and
errors (botocore's `ClientError` with the service's codes)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipelines.stream.shards import Positions, StreamReader, StreamTrimmed

ARN = "arn:aws:dynamodb:local:0:table/t/stream/1"


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetRecords")


def record(seq: int, key: str) -> dict[str, Any]:
    image = {"k": {"S": key}}
    return {"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{seq:021d}", "Keys": image, "NewImage": image}}


class FakeStream:
    """Shards: id -> (parent, records, closed). Iterators are `<shard>|<index>`; `expire` and
    `trimmed_before` inject faults; every call is logged."""

    def __init__(self, shards: dict[str, tuple[str | None, list[dict[str, Any]], bool]]) -> None:
        self.shards = shards
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.expire: set[str] = set()  # iterators answered with ExpiredIteratorException (once each)
        self.trimmed_before: dict[str, int] = {}  # shard -> first sequence number still held
        self.trim_once: set[str] = set()  # iterators answered with TrimmedDataAccessException once

    def describe_stream(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe_stream", kw))
        shards = []
        for shard_id, (parent, records, closed) in reversed(list(self.shards.items())):  # children first
            seq = {"StartingSequenceNumber": "0"}
            if closed:
                seq["EndingSequenceNumber"] = records[-1]["dynamodb"]["SequenceNumber"] if records else "0"
            shards.append(
                {"ShardId": shard_id, "SequenceNumberRange": seq, **({"ParentShardId": parent} if parent else {})}
            )
        return {"StreamDescription": {"Shards": shards}}

    def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get_shard_iterator", kw))
        shard_id = kw["ShardId"]
        records = self.shards[shard_id][1]
        if kw["ShardIteratorType"] == "TRIM_HORIZON":
            index = 0
        else:
            after = int(kw["SequenceNumber"])
            if after + 1 < self.trimmed_before.get(shard_id, 0):
                raise error("TrimmedDataAccessException")
            index = next(
                (i for i, r in enumerate(records) if int(r["dynamodb"]["SequenceNumber"]) > after), len(records)
            )
        return {"ShardIterator": f"{shard_id}|{index}"}

    def get_records(self, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("get_records", {"ShardIterator": ShardIterator}))
        if ShardIterator in self.expire:
            self.expire.discard(ShardIterator)
            raise error("ExpiredIteratorException")
        if ShardIterator in self.trim_once:
            self.trim_once.discard(ShardIterator)
            raise error("TrimmedDataAccessException")
        shard_id, index = ShardIterator.split("|")
        _, records, closed = self.shards[shard_id]
        start = int(index)
        out = records[start : start + Limit]
        end = start + len(out)
        response: dict[str, Any] = {"Records": out}
        if not (closed and end >= len(records)):
            response["NextShardIterator"] = f"{shard_id}|{end}"
        return response


def keys(records) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.keys["k"]["S"] for r in records]


def test_a_split_shard_is_read_to_its_end_before_its_children() -> None:
    stream = FakeStream(
        {
            "parent": (None, [record(1, "a"), record(2, "b")], True),
            "left": ("parent", [record(10, "c")], False),
            "right": ("parent", [record(11, "d"), record(12, "e")], False),
        }
    )
    reader = StreamReader(stream, ARN)
    got = keys(reader.poll())
    assert got[:2] == ["a", "b"] and sorted(got[2:]) == ["c", "d", "e"]  # the parent whole, then the children
    ahead = reader.ahead
    assert ahead.finished == {"parent"}
    assert ahead.sequences == {"parent": f"{2:021d}", "left": f"{10:021d}", "right": f"{12:021d}"}
    # new records in a child: the next poll reads only them, from the child's position
    stream.shards["left"][1].append(record(13, "f"))
    assert keys(reader.poll()) == ["f"]


def test_children_wait_while_their_parent_is_being_read_in_bounded_polls() -> None:
    stream = FakeStream(
        {
            "parent": (None, [record(i, f"p{i}") for i in range(1, 6)], True),
            "child": ("parent", [record(20, "c")], False),
        }
    )
    reader = StreamReader(stream, ARN)
    assert keys(reader.poll(max_records=3)) == ["p1", "p2", "p3"]
    assert "child" not in reader.ahead.sequences  # not started while the parent has records left
    assert keys(reader.poll(max_records=3)) == ["p4", "p5", "c"]


def test_an_expired_iterator_is_asked_for_again_after_the_stored_position() -> None:
    stream = FakeStream({"s": (None, [record(1, "a"), record(2, "b")], False)})
    reader = StreamReader(stream, ARN)
    assert keys(reader.poll()) == ["a", "b"]
    reader.commit()
    stream.shards["s"][1].append(record(3, "c"))
    stream.expire.add("s|2")  # the iterator the reader holds has expired
    assert keys(reader.poll()) == ["c"]
    asked = [kw for name, kw in stream.calls if name == "get_shard_iterator"]
    assert asked[-1] == {
        "StreamArn": ARN,
        "ShardId": "s",
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "SequenceNumber": f"{2:021d}",
    }


def test_rewind_reads_the_uncommitted_records_again() -> None:
    stream = FakeStream({"s": (None, [record(1, "a")], False)})
    reader = StreamReader(stream, ARN, Positions())
    assert keys(reader.poll()) == ["a"]
    reader.commit()
    stream.shards["s"][1].extend([record(2, "b"), record(3, "c")])
    assert keys(reader.poll()) == ["b", "c"]
    reader.rewind()  # e.g. the publish failed: nothing past the committed position counts
    assert keys(reader.poll()) == ["b", "c"]


def test_a_position_past_the_trim_horizon_raises_stream_trimmed() -> None:
    stream = FakeStream({"s": (None, [record(50, "x")], False)})
    stream.trimmed_before["s"] = 40
    reader = StreamReader(stream, ARN, Positions({"s": f"{5:021d}"}))
    with pytest.raises(StreamTrimmed) as caught:
        reader.poll()
    assert caught.value.shard_id == "s"
    reader.restart_trimmed("s")
    assert keys(reader.poll()) == ["x"]  # from the trim horizon


def test_a_shard_not_read_yet_that_answers_trimmed_starts_again_at_its_trim_horizon() -> None:
    # DynamoDB Local does this: the next iterator of a shard that was empty at the first one
    stream = FakeStream({"s": (None, [], False)})
    reader = StreamReader(stream, ARN)
    assert reader.poll() == []
    stream.shards["s"][1].append(record(1, "a"))
    stream.trim_once.add("s|0")
    assert keys(reader.poll()) == ["a"]  # nothing was read before: nothing can have been missed
