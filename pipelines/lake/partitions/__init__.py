"""Daily partitions of the lake: streamed Parquet writes and an atomic switch.

Layout (relative to the lake root; `<zone>` is `raw` or `quarantine`, see docs/lake.md):

    <zone>/<table>/_runs/dt=YYYY-MM-DD/run=<run_id>/part-00000-<rand>.parquet  data, one folder a run
    <zone>/<table>/_runs/dt=YYYY-MM-DD/run=<run_id>/_manifest.json                written last: run complete
    <zone>/<table>/dt=YYYY-MM-DD -> _runs/dt=YYYY-MM-DD/run=<run_id>              disk: the switch (symlink)
    <zone>/<table>/_current/dt=YYYY-MM-DD.json                                     S3: the switch (pointer)

A write streams record batches into row groups of a fixed size (memory stays bounded whatever the
day's size), rolls to a new file past `max_file_rows`, writes the manifest, and only then switches
the partition to the new run: on disk by replacing the symlink with `os.replace` (a rename), on S3
by PUTting the pointer object and then setting the Glue partition's location. The switch happens
only if the partition is still at the version the write started from (a lost race raises
`PartitionRaceLost`). Before the switch the old partition is untouched; after it, old runs are
garbage-collected (the previous one is kept). A write can also stop before the switch
(`PartitionWriter.stage`: the run is complete, not current), so that the run is audited first and
switched by `PartitionWriter.publish` only if it passed (write-audit-publish).

Readers resolve the partition once (symlink or pointer -> run -> manifest) and read exactly the
files that manifest names, so they see one whole version, never a mix and never a half-written run.

Modules: `layout` (names and paths), `manifest` (manifests and the current version of a partition),
`current` (a table's current files: many partitions resolved once, for every reader), `reading`,
`gc` (garbage collection of old runs), `writer` (the streamed write), `switch` (how a run
becomes current: a symlink on disk, a pointer on S3) and `upsert` (a partition changed as a new run
built on its current one: rows replaced by key, files reused; compaction).
"""
