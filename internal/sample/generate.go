//go:build ignore

// Command generate rewrites the sample's data folder from gen.Sample's options:
//
//	go generate ./internal/sample
//
// It removes the folder first, so that files the generator no longer writes do not linger (and
// would then fail the sample's test).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/sparkify/lake/internal/gen"
)

func main() {
	if err := os.RemoveAll("data"); err != nil {
		log.Fatal(err)
	}
	c, err := gen.WriteDir(context.Background(), "data", gen.Sample())
	if err != nil {
		log.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sample: %s\n", b)
}
