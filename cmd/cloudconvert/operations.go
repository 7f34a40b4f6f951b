package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cctoolkit/cloudconvert/integration"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/localserver"
	"github.com/cctoolkit/cloudconvert/localserver/engine"
	"github.com/cctoolkit/cloudconvert/sdk/catalogue"
)

// The operations catalogue, wired in: the docs pages of what the local
// server performs (from the engines' catalogue, the one it serves as GET
// /v2/operations), and the check of create_job and create_task against
// the catalogue of the server a call goes to.

// operationsPrefix names the operations pages: cloudconvert.operations
// (the index) and cloudconvert.operations.<family>.
const operationsPrefix = "cloudconvert.operations"

const operationsIntro = "This page describes what the **local CloudConvert server** performs: its engines' catalogue, " +
	"the same list it serves as `GET /v2/operations` (the function `list_operations`). Formats marked not available need " +
	"an engine installed on this machine, or run on the real service only. The real CloudConvert service performs many more " +
	"operations, formats and options: call `list_operations` with an API key set (an account of the real service) to see its " +
	"catalogue. Tasks are checked against the catalogue of the server they go to before they are sent."

// operationPages renders the local server's catalogue as docs pages.
func operationPages() ([]*integration.DocPage, error) {
	reg := engine.NewRegistry(engine.Options{})
	defer reg.Close()
	data, err := json.Marshal(localserver.Operations(reg))
	if err != nil {
		return nil, err
	}
	var ops []catalogue.Operation
	if err := json.Unmarshal(data, &ops); err != nil {
		return nil, err
	}
	descs := map[string]string{}
	for _, o := range descriptor().Operations {
		descs[o.Name] = o.Description
	}
	return catalogue.DocPages(ops, catalogue.PageOptions{Prefix: operationsPrefix, Intro: operationsIntro,
		Describe: func(op string) string { return descs[op] }}), nil
}

// operationDocs is the runtimes' ExtraDocsFunc: the operations pages take
// some milliseconds to make, which a script that reads no docs should not
// pay at every start.
func (c *cli) operationDocs() []*integration.DocPage {
	pages, err := operationPages()
	if err != nil {
		fmt.Fprintf(c.stderr, "cloudconvert: note: the operations docs pages could not be made (%v); the other docs pages are there\n", err)
		return nil
	}
	return pages
}

// catalogueDir is where catalogues are kept: $CLOUDCONVERT_CACHE_DIR, else
// <user cache dir>/cloudconvert, then operations/.
func (c *cli) catalogueDir() string {
	dir := c.getenv("CLOUDCONVERT_CACHE_DIR")
	if dir == "" {
		if x := c.getenv("XDG_CACHE_HOME"); x != "" {
			dir = filepath.Join(x, "cloudconvert")
		} else if d, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(d, "cloudconvert")
		} else {
			return ""
		}
	}
	return filepath.Join(dir, "operations")
}

// catalogues hands out one Source per server and key.
type catalogues struct {
	dir    string
	notice func(string)
	mu     sync.Mutex
	m      map[string]*catalogue.Source
}

func (c *cli) newCatalogues() *catalogues {
	return &catalogues{dir: c.catalogueDir(), m: map[string]*catalogue.Source{}, notice: func(msg string) {
		if !c.isQuiet() {
			fmt.Fprintln(c.stderr, "cloudconvert: note: "+msg)
		}
	}}
}

// source is the catalogue of the server at base (an API URL, .../v2).
func (k *catalogues) source(base, key string) *catalogue.Source {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := base + "\x00" + key
	s := k.m[id]
	if s == nil {
		s = &catalogue.Source{BaseURL: base, APIKey: key, CacheDir: k.dir,
			Notice: func(msg string) { k.notice(msg + " (" + strings.TrimRight(base, "/") + ")") }}
		k.m[id] = s
	}
	return s
}

// forClient is a Source for an sdk client, which fills in its server.
func (k *catalogues) forClient() *catalogue.Source {
	s := &catalogue.Source{CacheDir: k.dir}
	s.Notice = func(msg string) { k.notice(msg + " (" + strings.TrimRight(s.BaseURL, "/") + ")") }
	return s
}

// operationsCheck is invoke's Check: create_job's tasks and create_task's
// task are checked against the catalogue of the server they go to.
func (c *cli) operationsCheck() func(ctx context.Context, p *invoke.Prepared) *integration.Error {
	k := c.newCatalogues()
	return func(ctx context.Context, p *invoke.Prepared) *integration.Error {
		var tasks []catalogue.Task
		param := ""
		switch p.Function.Name {
		case "create_job":
			t, err := catalogue.JobTasks(p.Request.Body)
			if err != nil {
				return nil // the server says what is wrong
			}
			tasks, param = t, "tasks."
		case "create_task":
			t, err := catalogue.TaskOf(p.Request.PathValue("operation"), p.Request.Body)
			if err != nil {
				return nil
			}
			tasks = []catalogue.Task{t}
		default:
			return nil
		}
		err := k.source(p.BaseURL, p.Account.APIKey.Reveal()).Check(ctx, tasks)
		var ce *catalogue.Error
		if !errors.As(err, &ce) {
			return nil
		}
		if ce.Task != "" {
			param += ce.Task + "."
		}
		return &integration.Error{Kind: integration.KindArgument, Param: param + ce.Field, Message: ce.Detail(), Err: ce}
	}
}
