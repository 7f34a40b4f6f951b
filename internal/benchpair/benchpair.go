// Package benchpair runs the sides of a benchmark comparison in turn inside
// every iteration, so that load which comes and goes on a shared machine
// weighs on the floor and on the measured side alike and their ratio holds
// under noise.
//
// A paired benchmark reports, for each side, "<name>-ns/op" (its own time
// per operation) and, for every side but the floor, "<name>/<floor>" (its
// total time over the floor's: the cost ratio, lower is better). Its ns/op
// is 0: the sum of the sides is no figure of its own. benchstat summarizes
// the ratio like any other unit.
package benchpair

import (
	"testing"
	"time"
)

// Side is one side of a comparison.
type Side struct {
	Name string
	// Run does Ops operations (one when Ops is 0): a side may do a burst
	// of requests per call so that throughput, not one request's latency,
	// is what is timed.
	Run func()
	Ops int
}

func (s Side) ops() int {
	if s.Ops <= 0 {
		return 1
	}
	return s.Ops
}

// Run calls floor and others once each per iteration, rotating the order
// from one iteration to the next so that no side always runs first (or
// always right after another's garbage), and reports each side's time per
// operation and each other side's ratio to the floor.
func Run(b *testing.B, floor Side, others ...Side) {
	b.Helper()
	all := append([]Side{floor}, others...)
	spent := make([]time.Duration, len(all))
	i := 0
	for b.Loop() {
		for k := range all {
			j := (i + k) % len(all)
			start := time.Now()
			all[j].Run()
			spent[j] += time.Since(start)
		}
		i++
	}
	if i == 0 {
		return
	}
	for j, s := range all {
		b.ReportMetric(float64(spent[j].Nanoseconds())/float64(i*s.ops()), s.Name+"-ns/op")
		if j > 0 {
			// Per operation on each side: sides may batch differently.
			perOp := float64(spent[j]) / float64(s.ops())
			floorPerOp := float64(spent[0]) / float64(floor.ops())
			b.ReportMetric(perOp/floorPerOp, s.Name+"/"+floor.Name)
		}
	}
	b.ReportMetric(0, "ns/op")
}
