//go:build tools

// Package tools pins the generator tools so that `go generate` and `go run`
// use the versions recorded in go.mod.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
	_ "golang.org/x/perf/cmd/benchstat"
)
