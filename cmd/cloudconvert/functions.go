package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newFunctionsCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "functions",
		Short: "List the functions with their operation type",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := descriptor()
			if asJSON {
				type row struct {
					Name      string `json:"name"`
					FullName  string `json:"full_name"`
					Operation string `json:"operation"`
					Summary   string `json:"summary"`
				}
				var rows []row
				for _, f := range in.Functions {
					rows = append(rows, row{f.Name, f.FullName, f.Kind.String(), f.Summary})
				}
				writeJSON(c.stdout, rows)
				return nil
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			for _, f := range in.Functions {
				fmt.Fprintf(w, "%s\t%s\t%s\n", f.FullName, f.Kind, f.Summary)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
