package localserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver/engine"
)

// TestFinding9RunQueueIsFair: round-robin over users, then over their
// jobs; heavy work is capped at half the workers and does not hold back
// light work queued behind it.
func TestFinding9RunQueueIsFair(t *testing.T) {
	type push struct {
		user, job, id string
		heavy         bool
	}
	cases := []struct {
		name    string
		workers int
		pushes  []push
		done    []int // after taking the i-th task, release it
		want    string
	}{
		{"jobs take turns", 4, []push{{"u", "A", "a1", false}, {"u", "A", "a2", false}, {"u", "A", "a3", false}, {"u", "B", "b1", false}, {"u", "B", "b2", false}},
			nil, "a1 b1 a2 b2 a3"},
		{"users take turns", 4, []push{{"u1", "A", "a1", false}, {"u1", "B", "b1", false}, {"u2", "C", "c1", false}, {"u1", "A", "a2", false}},
			nil, "a1 c1 b1 a2"},
		{"heavy capped at half, light passes", 4, []push{{"u", "A", "h1", true}, {"u", "B", "h2", true}, {"u", "C", "h3", true}, {"u", "D", "l1", false}},
			nil, "h1 h2 l1"},
		{"heavy slot freed", 2, []push{{"u", "A", "h1", true}, {"u", "A", "h2", true}, {"u", "B", "l1", false}},
			[]int{0}, "h1 l1 h2"},
		{"light task of a job passes its heavy one", 2, []push{{"u", "A", "h0", true}, {"u", "B", "h1", true}, {"u", "B", "l1", false}},
			nil, "h0 l1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := newRunQueue(c.workers)
			for _, p := range c.pushes {
				q.push(p.user, p.job, queuedTask{id: p.id, heavy: p.heavy})
			}
			var got []string
			var taken []queuedTask
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				task, ok := q.take(ctx)
				cancel()
				if !ok {
					break
				}
				got = append(got, task.id)
				taken = append(taken, task)
				for _, d := range c.done {
					if d == len(taken)-1 {
						q.done(task)
					}
				}
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("order %v, want %s", got, c.want)
			}
		})
	}
}

func TestHeavyWork(t *testing.T) {
	for _, c := range []struct {
		op     string
		inputs []string
		want   bool
	}{
		{"convert", []string{"", "a.pdf"}, true}, {"convert", []string{"a.png"}, false}, {"thumbnail", []string{"pdf"}, true},
		{"convert", []string{"report.docx"}, true}, {"capture-website", nil, true}, {"archive", []string{"a.pdf"}, false},
		{"export/url", []string{"a.pdf"}, false}, {"metadata", []string{"x.PDF"}, true},
	} {
		if got := engine.Heavy(c.op, c.inputs...); got != c.want {
			t.Errorf("Heavy(%s, %v) = %v", c.op, c.inputs, got)
		}
	}
}
