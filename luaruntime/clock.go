package luaruntime

import (
	"context"
	"sync"
	"time"
)

// scriptClock is a script's time limit that stops while a person decides
// on a call the policy sets to ask (see invoke.WithAskHook): the limit
// bounds what the script does, not how long someone reads a question.
// Its context's Deadline moves on by each pause.
type scriptClock struct {
	context.Context // cancelled with cause when the time is up
	cancel          context.CancelCauseFunc
	cause           error

	mu       sync.Mutex
	deadline time.Time
	timer    *time.Timer
	paused   int // nested pauses
	left     time.Duration
}

func newScriptClock(parent context.Context, d time.Duration, cause error) *scriptClock {
	ctx, cancel := context.WithCancelCause(parent)
	c := &scriptClock{Context: ctx, cancel: cancel, cause: cause, deadline: time.Now().Add(d)}
	c.timer = time.AfterFunc(d, c.expire)
	return c
}

func (c *scriptClock) expire() { c.cancel(c.cause) }

// Deadline is the script's deadline, or the parent's when earlier.
func (c *scriptClock) Deadline() (time.Time, bool) {
	c.mu.Lock()
	d := c.deadline
	if c.paused > 0 {
		d = time.Now().Add(c.left)
	}
	c.mu.Unlock()
	if pd, ok := c.Context.Deadline(); ok && pd.Before(d) {
		return pd, true
	}
	return d, true
}

// pause stops the clock until the returned function is called.
func (c *scriptClock) pause() func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == 0 {
		if !c.timer.Stop() {
			// The time was up already.
			return func() {}
		}
		c.left = time.Until(c.deadline)
	}
	c.paused++
	var once sync.Once
	return func() { once.Do(c.resume) }
}

func (c *scriptClock) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused--
	if c.paused == 0 {
		c.deadline = time.Now().Add(c.left)
		c.timer.Reset(c.left)
	}
}

// stop releases the timer.
func (c *scriptClock) stop() {
	c.mu.Lock()
	c.timer.Stop()
	c.mu.Unlock()
	c.cancel(nil)
}
