package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newDocsCmd(c *cli) *cobra.Command {
	var search string
	cmd := &cobra.Command{
		Use:   "docs [PAGE]",
		Short: "List the docs pages, or print one (e.g. cloudconvert.create_job)",
		Example: `  cloudconvert docs
  cloudconvert docs cloudconvert.create_job
  cloudconvert docs integrations.cloudconvert
  cloudconvert docs --search import-1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := docsRuntime()
			if err != nil {
				return err
			}
			switch {
			case search != "":
				io.WriteString(c.stdout, rt.SearchDocsText(search))
			case len(args) == 0:
				io.WriteString(c.stdout, rt.ListDocsText())
			default:
				text, err := rt.ReadDoc(args[0])
				if err != nil {
					return usageErr("%v", err)
				}
				fmt.Fprint(c.stdout, text)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&search, "search", "", "search the pages")
	return cmd
}
