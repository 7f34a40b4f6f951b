// Command cloudconvert is the CloudConvert toolkit's CLI: run Lua scripts
// against app.integrations.cloudconvert, call one function, and read the
// docs and schemas.
//
// Exit status: 0 on success, 1 when the script, call or API failed, 2 for
// a usage error (bad flags, unknown function or page, no account).
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, os.Environ))
}
