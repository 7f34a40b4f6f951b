package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
)

// permFlags are the --read, --write and --allow-write flags of lua and
// call: allow, ask (y/N on the terminal) or deny per kind of function.
type permFlags struct {
	read, write string
	allowWrite  bool
	flags       *pflag.FlagSet
}

func addPermFlags(f *pflag.FlagSet, p *permFlags) {
	p.flags = f
	f.StringVar(&p.read, "read", "allow", "read functions: allow, ask (y/N on the terminal) or deny")
	f.StringVar(&p.write, "write", "ask", "write functions: allow, ask (y/N on the terminal; without a terminal, deny) or deny")
	f.BoolVar(&p.allowWrite, "allow-write", false, "allow write functions (create_job, create_task, ...): the same as --write=allow")
}

// policy checks the flags. Accounts with permissions in the accounts file
// keep theirs (see package accounts).
func (p *permFlags) policy() (invoke.Policy, error) {
	r, ok := invoke.ParseDecision(p.read)
	if !ok {
		return invoke.Policy{}, usageErr("--read must be allow, ask or deny, got %q", p.read)
	}
	w, ok := invoke.ParseDecision(p.write)
	if !ok {
		return invoke.Policy{}, usageErr("--write must be allow, ask or deny, got %q", p.write)
	}
	if p.allowWrite {
		if p.flags != nil && p.flags.Changed("write") && w != invoke.Allow {
			return invoke.Policy{}, usageErr("--allow-write means --write=allow, which contradicts --write=%s; give one of them", w)
		}
		w = invoke.Allow
	}
	return invoke.Policy{Read: r, Write: w}, nil
}

// Hints: how to allow what the policy refused, for lua and call.
const (
	writeHint = "run again with --allow-write (or --write=allow) to allow writes"
	readHint  = "run again with --read=allow to allow reads"
)

// errNoTerminal is the refusal of an Ask where no one can answer.
var errNoTerminal = errors.New("there is no terminal to ask on (stderr is not a terminal)")

// openTerminal is the production cli.tty: the controlling terminal, when
// stderr (where the prompt goes) is one. (Unlike progress bars, a prompt
// needs no more than a dumb terminal.)
func openTerminal(stderr io.Writer) func() (io.Reader, error) {
	return func() (io.Reader, error) {
		fd, ok := stderr.(interface{ Fd() uintptr })
		if !ok || !(isatty.IsTerminal(fd.Fd()) || isatty.IsCygwinTerminal(fd.Fd())) {
			return nil, errNoTerminal
		}
		f, err := os.Open("/dev/tty")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNoTerminal, err)
		}
		return f, nil
	}
}

// prompter asks y/N on the terminal before calls the policy sets to ask:
// the prompt on stderr, the answer from c.tty, opened at the first
// question. One question at a time; the terminal is read only when a
// question waits for its answer.
type prompter struct {
	c      *cli
	mu     sync.Mutex
	tried  bool
	closer io.Closer
	want   chan struct{} // a question waits for a line
	lines  chan string   // the lines read; closed at the terminal's end
	err    error         // why there is no terminal
}

// approver returns the terminal's approver and what to call when the
// command is done with it.
func (c *cli) approver() (invoke.Approver, func()) {
	p := &prompter{c: c}
	return p.ask, p.close
}

func (p *prompter) ask(ctx context.Context, req invoke.ApprovalRequest) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tried {
		p.tried = true
		p.open()
	}
	if p.err != nil {
		return false, p.err
	}
	verb := "read"
	if req.Kind == integration.Write {
		verb = "write"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s wants to %s with the account %q:\n  %s %s\n", req.Function, verb, req.Account, req.Method, req.URL)
	if req.Body != "" {
		fmt.Fprintf(&b, "  %s\n", shorten(req.Body, 300))
	}
	b.WriteString("Allow this call? [y/N] ")
	io.WriteString(p.c.stderr, b.String())
	select {
	case p.want <- struct{}{}:
	case <-ctx.Done():
		io.WriteString(p.c.stderr, "\n")
		return false, fmt.Errorf("stopped while asking: %w", context.Cause(ctx))
	}
	select {
	case line, ok := <-p.lines:
		if !ok {
			io.WriteString(p.c.stderr, "\n")
			p.err = errors.New("the terminal gave no answer (end of input)")
			return false, p.err
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, errors.New("refused at the terminal prompt")
	case <-ctx.Done():
		// The question stays asked: a later one would read its answer.
		io.WriteString(p.c.stderr, "\n")
		p.err = fmt.Errorf("stopped while asking: %w", context.Cause(ctx))
		return false, p.err
	}
}

// open starts the terminal's reader.
func (p *prompter) open() {
	if p.c.tty == nil {
		p.err = errNoTerminal
		return
	}
	r, err := p.c.tty()
	if err != nil {
		p.err = err
		return
	}
	p.closer, _ = r.(io.Closer)
	p.want = make(chan struct{})
	p.lines = make(chan string, 1) // an answer that came after ctx ended
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 256), 4096)
		for range p.want {
			if !sc.Scan() {
				return
			}
			p.lines <- sc.Text()
		}
	}()
}

// close ends the reader and closes the terminal.
func (p *prompter) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.want != nil {
		close(p.want)
		p.want = nil
		p.err = errors.New("the command has ended")
	}
	if p.closer != nil {
		p.closer.Close()
		p.closer = nil
	}
}

// shorten cuts s to n bytes (at a rune boundary), saying how long it was.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
