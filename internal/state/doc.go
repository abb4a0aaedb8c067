// Package state stores what an incremental run needs to know about the runs before it: the
// lake's own state, kept under _state/ in the output beside the tables.
//
// An incremental run (--incremental) loads only the input files that the lake has not loaded yet,
// and must still publish exactly the tables that a full run over every file would. The SPEC's
// rules fold records together (the first song wins, a user's latest event wins, a play is
// deduplicated by its key), so folding new records in needs the old ones that the rules look at,
// without reading the old JSON again. The engine decides what that is; this package writes it,
// reads it back exactly as it was written, and detects damage.
//
// Layout under a folder dir (the run's staging folder when writing, _state when reading what is
// published), one subfolder per kind of data because the commit replaces whole folders:
//
//	meta/state.json                   Meta: what was loaded, settings, counters, the tables'
//	                                  partitions, the plays files' spans (Span), and the size
//	                                  and SHA-256 of every file below
//	catalog/songs.parquet             []record.Song
//	users/users.parquet               []record.Event, one per user
//	plays/<partition>/<day>.parquet   []record.Event of one day of one partition, e.g.
//	                                  plays/year=2018/month=11/2018-11-30.parquet
//	ids/ids.bin                       []int64: the id (songplay_id) of every play, strictly
//	                                  increasing, as 8-byte little-endian integers, nothing else
//	rejects/rejects.parquet           []*record.Reject
//
// The plays are kept one file per day, and Meta.Plays records each day's rows and range of
// session ids, so that a run reads only the days where a new play's duplicate may be; the id
// index holds the id of every play loaded, so that a run checks a new play's id against all of
// them without reading every day.
//
// The folder's name starts with "_" so that Spark, Hive, Trino, DuckDB and pyarrow skip it when
// they read the lake. It is published in the same commit as the tables, so the state always
// describes the tables beside it. It must not be edited by hand: a file whose size or SHA-256
// differs from Meta, or a meta/state.json that is not byte for byte what WriteMeta writes, is
// reported as ErrCorrupt, and the remedy is a run without --incremental, which rebuilds it.
//
// The Parquet files and ids.bin are private to this package: their schema is not the tables' and
// may change with Format. They are written and read with parquet-go. Its reader trusts the lengths a file
// declares, which is sound here because every byte is checked against the SHA-256 in Meta before
// it decodes anything: a file that is not exactly what this package wrote is ErrCorrupt. In case
// a bug or a hand edit slips past the hash, the reader also checks the footer with lists bounded
// by its bytes, the schema, that the column chunks lie where the writer puts them, and that the
// row count fits the file's size before it allocates the rows, and turns a panic of parquet-go
// into ErrCorrupt (see read.go).
package state
