"""Reading one DynamoDB stream: every shard, parents before their children, from stored positions.

A stream is a tree of shards: when a shard splits, the parent is closed (it has an ending sequence
number and, once read to its end, GetRecords returns no next iterator) and its children carry on.
The records of one item are in one shard at a time, in order, and a child's come after its
parent's, so a shard is read only once its parent is read to its end (or is gone from the stream:
trimmed after 24 hours). `StreamReader.poll` returns the records it read and the positions they
lead to; the caller commits those positions (`commit`) only once the records are in the lake, and
`rewind` forgets the read-ahead after a failure, so the next poll reads the same records again.

Positions are `{shard id: last sequence number read}`; a shard read to its end is in `finished`.
A shard iterator lives 15 minutes: an expired one is asked for again, AFTER_SEQUENCE_NUMBER of the
shard's position (TRIM_HORIZON for a shard not read yet). A position older than the stream's trim
horizon (its records are gone) raises `StreamTrimmed`: the caller must reload what it may have
missed from the table itself and restart the shard at its trim horizon (`restart_trimmed`). A
shard not read yet has nothing to miss: its iterator is asked for again at the trim horizon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

GET_RECORDS_LIMIT = 1000  # the API's maximum per call


@dataclass(frozen=True)
class Record:
    """One change of one item, as the stream carries it."""

    shard_id: str
    sequence: str
    event: str  # INSERT, MODIFY or REMOVE
    keys: dict[str, Any]  # DynamoDB JSON of the item's key
    new_image: dict[str, Any] | None  # None for a REMOVE
    old_image: dict[str, Any] | None
    created: datetime | None = None

    @classmethod
    def of(cls, shard_id: str, raw: dict[str, Any]) -> Record:
        body = raw["dynamodb"]
        return cls(
            shard_id,
            body["SequenceNumber"],
            raw["eventName"],
            body.get("Keys", {}),
            body.get("NewImage"),
            body.get("OldImage"),
            body.get("ApproximateCreationDateTime"),
        )


class StreamTrimmed(RuntimeError):
    """A shard's position is older than the stream's trim horizon: changes may have been lost."""

    def __init__(self, shard_id: str, position: str | None) -> None:
        self.shard_id = shard_id
        self.position = position
        super().__init__(f"shard {shard_id}: position {position} is past the stream's trim horizon")


@dataclass
class Positions:
    """Where a stream's reading stands: last sequence number read per shard, shards read to the end."""

    sequences: dict[str, str] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)

    def copy(self) -> Positions:
        return Positions(dict(self.sequences), set(self.finished))

    def to_json(self) -> dict[str, Any]:
        return {"sequences": dict(sorted(self.sequences.items())), "finished": sorted(self.finished)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Positions:
        data = data or {}
        return cls(dict(data.get("sequences", {})), set(data.get("finished", [])))


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


class StreamReader:
    """Reads one stream (`client`: a boto3 `dynamodbstreams` client) from committed positions."""

    def __init__(self, client: Any, arn: str, positions: Positions | None = None) -> None:
        self.client = client
        self.arn = arn
        self.committed = positions or Positions()
        self._ahead = self.committed.copy()  # positions of what has been read, committed or not
        self._iterators: dict[str, str] = {}

    # -- the stream's shards -----------------------------------------------------------------------

    def shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamArn": self.arn}
        while True:
            description = self.client.describe_stream(**kwargs)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            kwargs["ExclusiveStartShardId"] = last

    def _readable(self, shards: list[dict[str, Any]]) -> list[str]:
        """Shards to read now, parents first: not finished, and the parent (if still in the stream)
        read to its end."""
        present = {s["ShardId"] for s in shards}
        out = []
        for shard in shards:
            shard_id, parent = shard["ShardId"], shard.get("ParentShardId")
            if shard_id in self._ahead.finished:
                continue
            if parent and parent in present and parent not in self._ahead.finished:
                continue
            out.append(shard_id)
        return out

    # -- iterators ---------------------------------------------------------------------------------

    def _iterator(self, shard_id: str) -> str:
        if shard_id in self._iterators:
            return self._iterators[shard_id]
        position = self._ahead.sequences.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id}
        if position:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
        else:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        try:
            iterator = self.client.get_shard_iterator(**kwargs)["ShardIterator"]
        except Exception as exc:
            if _error_code(exc) == "TrimmedDataAccessException":
                raise StreamTrimmed(shard_id, position) from exc
            raise
        self._iterators[shard_id] = iterator
        return iterator

    def _get_records(self, shard_id: str, limit: int) -> dict[str, Any]:
        for attempt in range(2):
            try:
                return self.client.get_records(ShardIterator=self._iterator(shard_id), Limit=limit)
            except Exception as exc:
                code = _error_code(exc)
                if code == "ExpiredIteratorException" and attempt == 0:
                    log.info("shard %s: iterator expired, asking again from %s", shard_id,
                             self._ahead.sequences.get(shard_id, "the trim horizon"))  # fmt: skip
                    self._iterators.pop(shard_id, None)
                    continue
                if code == "TrimmedDataAccessException":
                    if shard_id not in self._ahead.sequences and attempt == 0:
                        # Nothing read from the shard yet: its iterator came from TRIM_HORIZON, where a
                        # new one starts too, so nothing was skipped. DynamoDB Local answers this for
                        # the next iterator of a shard that was empty when its first iterator was taken.
                        self._iterators.pop(shard_id, None)
                        continue
                    raise StreamTrimmed(shard_id, self._ahead.sequences.get(shard_id)) from exc
                raise
        raise AssertionError("unreachable")

    # -- reading -----------------------------------------------------------------------------------

    def poll(self, max_records: int = 10_000) -> list[Record]:
        """Read what the shards hold past the read-ahead positions, at most about `max_records`:
        each shard until a call returns nothing, a closed shard to its end and then its children."""
        records: list[Record] = []
        done_now: set[str] = set()
        while len(records) < max_records:
            todo = [s for s in self._readable(self.shards()) if s not in done_now]
            if not todo:
                break
            for shard_id in todo:
                done_now.add(shard_id)
                while len(records) < max_records:
                    response = self._get_records(shard_id, min(GET_RECORDS_LIMIT, max_records - len(records)))
                    got = [Record.of(shard_id, r) for r in response.get("Records", [])]
                    records.extend(got)
                    if got:
                        self._ahead.sequences[shard_id] = got[-1].sequence
                    following = response.get("NextShardIterator")
                    if not following:  # a closed shard, read to its end: its children may start
                        self._iterators.pop(shard_id, None)
                        self._ahead.finished.add(shard_id)
                        done_now.discard(shard_id)
                        break
                    self._iterators[shard_id] = following
                    if not got:
                        break
        return records

    @property
    def ahead(self) -> Positions:
        """The positions the records returned so far lead to."""
        return self._ahead.copy()

    def commit(self, positions: Positions | None = None) -> None:
        """The records read so far (or up to `positions`) are in the lake."""
        self.committed = (positions or self._ahead).copy()

    def rewind(self) -> None:
        """Forget what was read past the committed positions: the next poll reads it again."""
        self._ahead = self.committed.copy()
        self._iterators.clear()

    def restart_trimmed(self, shard_id: str) -> None:
        """After a reload from the table: read the shard again from its trim horizon."""
        for positions in (self._ahead, self.committed):
            positions.sequences.pop(shard_id, None)
            positions.finished.discard(shard_id)
        self._iterators.pop(shard_id, None)


__all__ = ["Positions", "Record", "StreamReader", "StreamTrimmed"]
