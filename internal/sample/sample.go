package sample

import (
	"context"
	"embed"
	"io"
	"io/fs"
	"sync"

	"github.com/sparkify/lake/internal/gen"
)

//go:generate go run generate.go

// The data folder is written by generate.go; "all:" keeps the embedding complete even if the
// generator ever writes a name that starts with '.' or '_'.
//
//go:embed all:data
var data embed.FS

// How runs name the sample's inputs, in summaries and manifests.
const (
	SongsName = "built-in sample song_data"
	LogsName  = "built-in sample log_data"
)

// Songs returns the sample's song catalog, rooted at song_data (files like A/B/C/TR….json).
func Songs() fs.FS { return sub("data/song_data") }

// Logs returns the sample's event log, rooted at log_data (files like 2018/11/2018-11-29-events.json).
func Logs() fs.FS { return sub("data/log_data") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(data, dir)
	if err != nil {
		panic(err) // a constant, valid path: cannot happen
	}
	return f
}

// Options returns the options the sample is generated with.
func Options() gen.Options { return gen.Sample() }

// Counts returns the generator's figures for the sample (songs, events, plays, matches, users…):
// what a run over Songs and Logs must find. They are recomputed, not stored, so they cannot
// disagree with the embedded files (the test checks that those are the generator's output).
var Counts = sync.OnceValue(func() gen.Counts {
	c, err := gen.Generate(context.Background(), gen.Sample(), func(string) (io.WriteCloser, error) {
		return discard{}, nil
	})
	if err != nil {
		panic("sample: " + err.Error()) // fixed options and a writer that cannot fail
	}
	return c
})

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }
