package sdk

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cctoolkit/cloudconvert/sdk/catalogue"
)

// WithCatalogue checks ConvertFiles' tasks against the server's operations
// catalogue before anything is sent (src fetches it and may keep it on
// disk; see catalogue.Source): a misspelt option or a pair of formats the
// server does not convert fails with a *catalogue.Error and no request
// but the catalogue's. Without it the server is the judge, after the
// uploads. When the server serves no catalogue the tasks go unchecked
// (src's Notice says so). New fills in src's BaseURL, APIKey and
// HTTPClient when they are empty: give each client its own Source.
func WithCatalogue(src *catalogue.Source) Option {
	return func(c *config) error {
		if src == nil {
			return errors.New("sdk: WithCatalogue(nil)")
		}
		c.catalogue = src
		return nil
	}
}

// checkConvert checks the tasks ConvertFiles is about to send: each file
// into operation (convert, or merge for a merge) to format with fields.
func (c *Client) checkConvert(ctx context.Context, operation string, files []string, fields map[string]any) error {
	if c.catalogue == nil {
		return nil
	}
	tasks := make([]catalogue.Task, len(files))
	for i, f := range files {
		tasks[i] = catalogue.Task{Name: filepath.Base(f), Operation: operation, InputFormat: catalogue.FormatOfName(f),
			OutputFormat: fmt.Sprint(fields["output_format"]), Fields: fields}
	}
	err := c.catalogue.Check(ctx, tasks)
	var ce *catalogue.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%s %s: %w", operation, ce.Task, &detailOnly{ce})
	}
	return err
}

// detailOnly words a catalogue error without its task name (the caller
// names the file).
type detailOnly struct{ e *catalogue.Error }

func (d *detailOnly) Error() string { return d.e.Detail() }
func (d *detailOnly) Unwrap() error { return d.e }

// convertFields are the fields of ConvertFiles' convert tasks.
func convertFields(options map[string]any, to string) map[string]any {
	fields := make(map[string]any, len(options)+1)
	for k, v := range options {
		fields[k] = v
	}
	fields["output_format"] = to
	return fields
}
