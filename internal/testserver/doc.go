// Package testserver is test support that starts REAL servers as child
// processes for integration and fault-injection tests:
//
//   - StartS3 runs versitygw (https://github.com/versity/versitygw, Apache-2.0),
//     an S3-compatible gateway, with its posix backend in a temporary folder.
//   - StartProxy runs a toxiproxy server (https://github.com/Shopify/toxiproxy,
//     MIT) with one TCP proxy in front of an upstream address, and exposes a
//     few toxics (latency, connection reset, timeout, proxy down) through
//     toxiproxy's HTTP API.
//
// Nothing is mocked: requests travel over loopback TCP to the real programs.
// Both servers bind 127.0.0.1 only, on free ports, and are stopped by
// t.Cleanup. Their output is kept in memory and written to the test log only
// when the test fails.
//
// The binaries are not vendored. They are found through, in order:
//
//   - SPARKIFY_VERSITYGW / SPARKIFY_TOXIPROXY: explicit paths;
//   - PATH: "versitygw" / "toxiproxy-server";
//   - the Go bin folders ($GOBIN, $GOPATH/bin, $HOME/go/bin, then what
//     `go env GOBIN GOPATH` reports): "versitygw" / "toxiproxy-server", or
//     "server" (the name `go install` gives toxiproxy's server) when its
//     embedded build info says it is github.com/Shopify/toxiproxy/v2/cmd/server.
//     A "server" found on PATH is never used: the name is too generic.
//
// Install them with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//	go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0
//
// When a binary is missing the test is skipped, unless SPARKIFY_REQUIRE_S3 is
// non-empty (set it in CI), in which case the test fails.
//
// All functions taking a testing.TB call t.Fatal on error, so they must be
// called from the goroutine running the test.
package testserver
