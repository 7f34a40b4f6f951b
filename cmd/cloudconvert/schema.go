package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/meta"
	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

func newSchemaCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "schema FUNCTION",
		Short:   "Print the JSON Schema of a function's arguments",
		Example: "  cloudconvert schema create_job",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := meta.Integration()
			fn, ok := in.Function(args[0])
			if !ok {
				return usageErr("no function %q%s; functions: %s", args[0], suggest.DidYouMean(args[0], in.FunctionNames()), strings.Join(in.FunctionNames(), ", "))
			}
			var v any
			if err := json.Unmarshal(fn.InputSchema, &v); err != nil {
				return err
			}
			writeJSON(c.stdout, v)
			return nil
		},
	}
}
