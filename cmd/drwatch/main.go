// Command drwatch is a disaster-recovery daemon for OpenSearch
// cross-cluster replication. See README.md.
package main

import (
	"os"

	"github.com/drwatch/drwatch/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
