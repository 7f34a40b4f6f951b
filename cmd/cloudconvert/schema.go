package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
)

func newSchemaCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "schema FUNCTION",
		Short:   "Print the JSON Schema of a function's arguments",
		Example: "  cloudconvert schema create_job",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := descriptor()
			fn := in.Function(args[0])
			if fn == nil {
				return usageErr("no function %q%s; functions: %s", args[0], suggest.DidYouMean(args[0], in.FunctionNames()), strings.Join(in.FunctionNames(), ", "))
			}
			b, err := json.Marshal(fn.InputSchema())
			if err != nil {
				return err
			}
			writeIndented(c, b)
			return nil
		},
	}
}
