package localserver

import "sync"

// Encoded answers of ended jobs and tasks are kept, so that polling a
// finished job (the commonest request of a client waiting on a job) costs a
// lookup instead of rendering and encoding the job and its tasks again.
//
// Invalidation: every change of the state happens under s.mu taken for
// writing, which only locked does, and locked counts those (Server.gen).
// An answer is kept with the count read under the read lock it was
// rendered under and is served only while the count is unchanged: any
// change at all, to anything, makes every kept answer stale. Rendering
// reads nothing but the state and constants (base URL, signing key; the
// expiry in a signed URL is the file's, not the clock's), so an answer
// of an unchanged state is the answer.
const (
	// maxViewBytes bounds the memory of the kept answers; past it they
	// are dropped all at once (most are stale by then anyway).
	maxViewBytes = 16 << 20
	// maxViewSize is the largest answer kept.
	maxViewSize = 1 << 20
)

type viewKey struct {
	kind   string // "job" or "task"
	id     string
	escape bool // the main host escapes "/", the sync host does not
}

type keptView struct {
	gen  uint64
	body []byte
}

type viewCache struct {
	mu    sync.Mutex
	m     map[viewKey]keptView
	bytes int
}

// get returns the answer kept for k at state count gen.
func (c *viewCache) get(k viewKey, gen uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok || v.gen != gen {
		return nil, false
	}
	return v.body, true
}

// put keeps body as k's answer at state count gen; body is never changed
// afterwards (it is written to every response that hits it).
func (c *viewCache) put(k viewKey, gen uint64, body []byte) {
	if len(body) > maxViewSize {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(body) > maxViewBytes {
		c.m, c.bytes = map[viewKey]keptView{}, 0
	}
	if old, ok := c.m[k]; ok {
		if old.gen > gen {
			return // a newer answer is kept already
		}
		c.bytes -= len(old.body)
	}
	c.m[k] = keptView{gen: gen, body: body}
	c.bytes += len(body)
}
