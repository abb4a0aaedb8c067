package testserver

import (
	"net"
	"strconv"
	"testing"
)

var prismBinary = binary{
	what:    "Beam Prism job server",
	envVar:  "SPARKIFY_PRISM",
	onPath:  []string{"prism"},
	inGoBin: []goBinName{{name: "prism", pkg: "github.com/apache/beam/sdks/v2/go/cmd/prism"}},
	install: "go install github.com/apache/beam/sdks/v2/go/cmd/prism@v2.77.0",
}

// Prism is a running standalone Prism, Beam's local runner, serving Beam's job API.
type Prism struct {
	// Endpoint is the job server, "localhost:PORT": what a launcher passes as --endpoint. Prism
	// gives its workers the same port, always as localhost, so workers must run on this host.
	Endpoint string
}

// StartPrism starts Prism as a job server on a free loopback port (its web UI off), waits until
// it accepts connections, and stops it in t.Cleanup:
//
//	prism --job_port PORT --serve_http=false
//
// When the binary is absent the test is skipped with instructions to install it, or fails if
// SPARKIFY_REQUIRE_S3 is set (CI installs it with the S3 servers). Its output is logged only if
// the test fails.
func StartPrism(t testing.TB) *Prism {
	t.Helper()
	bin := prismBinary.require(t)
	_, addr := startServer(t, serverSpec{
		name: "prism",
		bin:  bin,
		args: func(port int) []string {
			return []string{"--job_port", strconv.Itoa(port), "--serve_http=false"}
		},
		probe: func(string) bool { return true }, // a gRPC server: accepting connections is enough
	})
	_, port, _ := net.SplitHostPort(addr)
	return &Prism{Endpoint: "localhost:" + port}
}
