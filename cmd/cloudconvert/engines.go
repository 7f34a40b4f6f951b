package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cctoolkit/cloudconvert/internal/suggest"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

func newEnginesCmd(c *cli) *cobra.Command {
	var (
		asJSON bool
		op     string
	)
	cmd := &cobra.Command{
		Use:   "engines",
		Short: "List the local server's engines and every operation and format pair each one serves",
		Long: "List the engines the local server detected (pure-Go ones, LibreOffice, Chromium), then every operation " +
			"and format pair with the engine that serves it, from the engines' catalogue (the one the local server " +
			"checks tasks against), then the operations only the real CloudConvert service performs.\n\n" +
			"--json prints {engines, operations, real_service_only}; operations carry each option's type, default, " +
			"possible values and description.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := engine.NewRegistry(engine.Options{})
			defer reg.Close()
			list := reg.Engines()
			caps := reg.Catalogue()
			if op != "" {
				var sel []engine.Capability
				for _, cp := range caps {
					if cp.Operation == op {
						sel = append(sel, cp)
					}
				}
				if len(sel) == 0 {
					if why, ok := engine.RealServiceOnly()[op]; ok {
						return fmt.Errorf("the operation %s runs on the real CloudConvert service only: %s", op, why)
					}
					return fmt.Errorf("no local engine performs the operation %q%s; local operations: %s", op,
						suggest.DidYouMean(op, reg.Operations()), strings.Join(reg.Operations(), ", "))
				}
				caps = sel
			}
			real := engine.RealServiceOnly()
			if asJSON {
				writeJSON(c.stdout, map[string]any{"engines": list, "operations": caps, "real_service_only": real})
				return nil
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ENGINE\tAVAILABLE\tVERSION\tNOTE")
			for _, e := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, yesNo(e.Available), e.Version, e.Note)
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "OPERATION\tINPUT\tOUTPUT\tENGINE\tAVAILABLE")
			for _, row := range capabilityRows(caps) {
				fmt.Fprintln(w, row)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if op == "" {
				ops := make([]string, 0, len(real))
				for k := range real {
					ops = append(ops, k)
				}
				sort.Strings(ops)
				fmt.Fprintf(c.stdout, "\nReal CloudConvert service only: %s\n", strings.Join(ops, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (engines, the operations catalogue with options, the real-service-only operations)")
	cmd.Flags().StringVar(&op, "operation", "", "list only this operation (e.g. convert, watermark, pdf/encrypt)")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// capabilityRows groups the catalogue into one row per operation, input
// format and engine, with that input's output formats joined.
func capabilityRows(caps []engine.Capability) []string {
	type key struct{ op, in, eng string }
	outs := map[key][]string{}
	avail := map[key]bool{}
	var order []key
	for _, cp := range caps {
		k := key{cp.Operation, cp.InputFormat, cp.Engine}
		if _, ok := outs[k]; !ok {
			order = append(order, k)
		}
		out := cp.OutputFormat
		switch out {
		case "":
			out = "(none)"
		case "*":
			out = "(its files)"
		}
		outs[k] = append(outs[k], out)
		avail[k] = cp.Available
	}
	rows := make([]string, len(order))
	for i, k := range order {
		in := k.in
		if in == "*" {
			in = "(any)"
		}
		rows[i] = fmt.Sprintf("%s\t%s\t%s\t%s\t%s", k.op, in, strings.Join(outs[k], ", "), k.eng, yesNo(avail[k]))
	}
	return rows
}
