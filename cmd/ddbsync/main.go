// Command ddbsync keeps an exact, queryable PostgreSQL copy of DynamoDB
// tables. See the README or `ddbsync --help`.
package main

import (
	"os"

	"github.com/ddbsync/ddbsync/internal/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
