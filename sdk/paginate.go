package sdk

import (
	"context"
	"fmt"
	"iter"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
	"github.com/oapi-codegen/nullable"
)

// maxPages guards against a server whose links.next never ends.
const maxPages = 100000

// Jobs iterates over every job matching params, page after page, following
// links.next. An error ends the iteration after being yielded once.
//
//	for job, err := range c.Jobs(ctx, &sdk.ListJobsParams{FilterTag: &tag}) {
//		if err != nil { return err }
//		fmt.Println(job.Id, job.Status)
//	}
func (c *Client) Jobs(ctx context.Context, params *ListJobsParams) iter.Seq2[Job, error] {
	return paginate(ctx, func(ctx context.Context, q string) ([]Job, *client.ListLinks, error) {
		l, err := c.listJobs(ctx, params, q)
		if err != nil {
			return nil, nil, err
		}
		return l.Data, l.Links, nil
	})
}

// Tasks iterates over every task matching params, following links.next.
func (c *Client) Tasks(ctx context.Context, params *ListTasksParams) iter.Seq2[Task, error] {
	return paginate(ctx, func(ctx context.Context, q string) ([]Task, *client.ListLinks, error) {
		l, err := c.listTasks(ctx, params, q)
		if err != nil {
			return nil, nil, err
		}
		return l.Data, l.Links, nil
	})
}

func paginate[T any](ctx context.Context, page func(ctx context.Context, rawQuery string) ([]T, *client.ListLinks, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q := ""
		seen := map[string]bool{}
		for range maxPages {
			items, links, err := page(ctx, q)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			next := nullString(linkNext(links))
			if next == "" || len(items) == 0 {
				return
			}
			nq, err := NextQuery(next)
			if err != nil {
				yield(zero, fmt.Errorf("pagination: %w", err))
				return
			}
			if seen[nq] {
				yield(zero, fmt.Errorf("pagination: links.next repeats %q", next))
				return
			}
			seen[nq] = true
			q = nq
		}
	}
}

func linkNext(l *client.ListLinks) nullable.Nullable[string] {
	if l == nil {
		return nil
	}
	return l.Next
}

func nullString(n nullable.Nullable[string]) string {
	if n.IsSpecified() && !n.IsNull() {
		return n.MustGet()
	}
	return ""
}

func nullInt(n nullable.Nullable[int]) int {
	if n.IsSpecified() && !n.IsNull() {
		return n.MustGet()
	}
	return 0
}
