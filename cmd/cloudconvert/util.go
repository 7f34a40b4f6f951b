package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// errInterrupted is the cause of a context ended by Ctrl-C or SIGTERM.
var errInterrupted = errors.New("interrupted")

// interruptible returns ctx ended (cause errInterrupted) by the first
// Ctrl-C or SIGTERM, so that the command can still print its result; a
// second Ctrl-C stops the process as usual.
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			signal.Stop(ch)
			cancel(errInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// wasInterrupted says whether ctx ended by interruptible's signal.
func wasInterrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errInterrupted)
}
