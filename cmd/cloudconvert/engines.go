package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

func newEnginesCmd(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "engines",
		Short: "List the engines the local server detected (pure-Go ones, LibreOffice, Chromium)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := engine.NewRegistry(engine.Options{})
			defer reg.Close()
			list := reg.Engines()
			if asJSON {
				writeJSON(c.stdout, list)
				return nil
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ENGINE\tAVAILABLE\tVERSION\tHANDLES")
			for _, e := range list {
				avail := "yes"
				if !e.Available {
					avail = "no"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, avail, e.Version, strings.Join(e.Handles, "; "))
				if e.Note != "" {
					fmt.Fprintf(w, "\t\t\t(%s)\n", e.Note)
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
