package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// detect resolves an external program: an explicit override wins (a path
// that does not exist, or "-", means "not installed"); else the first
// name found on PATH.
func detect(override string, names ...string) string {
	if override != "" {
		if override == "-" {
			return ""
		}
		p, err := exec.LookPath(override)
		if err != nil {
			return ""
		}
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// programVersion runs `bin --version` with a short timeout and returns the
// first line, e.g. "LibreOffice 7.4.7.2 40(Build:2)" or "Chromium 156.0...".
func programVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	home, err := os.MkdirTemp("", "engine-version-")
	if err != nil {
		return ""
	}
	defer os.RemoveAll(home)
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = append(os.Environ(), "HOME="+home)
	setProcessGroup(cmd)
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// setProcessGroup makes cancellation kill the whole tree: soffice and
// chromium both fork helpers that would otherwise outlive the timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
}

// runTool runs an external engine with the registry's timeout and returns
// ENGINE_FAILED with the tail of its output when it fails.
func (r *Registry) runTool(parent context.Context, name, home string, args ...string) error {
	ctx, cancel := context.WithTimeout(parent, r.opts.ExternalTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home)
	cmd.Dir = home
	setProcessGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil: // the caller gave up; not the engine's fault
		return parent.Err()
	case ctx.Err() != nil:
		return newError(CodeEngineFailed, err, "%s did not finish within %s", name, r.opts.ExternalTimeout)
	}
	return newError(CodeEngineFailed, err, "%s failed: %s", name, tail(out.String(), 500))
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// officeFamily groups the formats one LibreOffice component reads and writes.
type officeFamily struct {
	inputs, outputs []string
}

func (f *officeFamily) canOutput(out string) bool { return slices.Contains(f.outputs, out) }

var officeFamilies = []officeFamily{
	{inputs: []string{"doc", "docx", "odt", "rtf", "txt"}, outputs: []string{"doc", "docx", "odt", "pdf", "rtf", "txt"}},
	{inputs: []string{"xls", "xlsx", "ods", "csv"}, outputs: []string{"csv", "ods", "pdf", "xls", "xlsx"}},
	{inputs: []string{"ppt", "pptx", "odp"}, outputs: []string{"odp", "pdf", "ppt", "pptx"}},
}

func officeFamilyOf(in string) *officeFamily {
	for i := range officeFamilies {
		if slices.Contains(officeFamilies[i].inputs, in) {
			return &officeFamilies[i]
		}
	}
	return nil
}

// convertFilter names the LibreOffice export filter where the bare
// extension is ambiguous (text export would otherwise pick a legacy codec).
var convertFilter = map[string]string{
	"txt": "txt:Text (encoded):UTF8",
	"csv": "csv:Text - txt - csv (StarCalc):44,34,76",
}

// convertOffice runs `soffice --headless --convert-to` in a private
// profile, one input at a time (LibreOffice serializes on its profile).
func (r *Registry) convertOffice(ctx context.Context, req Request, progress func(int)) (Result, error) {
	if r.libreoffice == "" {
		return Result{}, newError(CodeEngineNotAvailable, nil,
			"converting %s to %s needs LibreOffice, which is not installed; %s", req.InputFormat, req.OutputFormat,
			installHint(engineLibreOffice))
	}
	res := Result{Engine: engineLibreOffice, EngineVersion: r.libreOfficeVersion()}
	for i, in := range req.Inputs {
		work, cleanup, err := tempDir("engine-soffice-")
		if err != nil {
			return Result{}, err
		}
		f, err := r.convertOfficeOne(ctx, req, in, work)
		cleanup()
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, f)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

func (r *Registry) convertOfficeOne(ctx context.Context, req Request, in File, work string) (File, error) {
	inFmt := formatOf(in.Name, in.Path)
	if inFmt == "" {
		inFmt = req.InputFormat
	}
	// A neutral name: LibreOffice derives the output name from the input
	// and chokes on odd characters; the display name is restored below.
	src := filepath.Join(work, "input."+inFmt)
	if err := copyFile(in.Path, src); err != nil {
		return File{}, newError(CodeInvalidFile, err, "%s cannot be read", displayName(in))
	}
	outDir := filepath.Join(work, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		return File{}, fmt.Errorf("mkdir: %w", err)
	}
	filter := req.OutputFormat
	if f, ok := convertFilter[filter]; ok {
		filter = f
	}
	profile := (&url.URL{Scheme: "file", Path: filepath.Join(work, "profile")}).String()
	err := r.runTool(ctx, "LibreOffice", work, r.libreoffice, "--headless", "--norestore", "--nologo",
		"--nolockcheck", "--nodefault", "-env:UserInstallation="+profile,
		"--convert-to", filter, "--outdir", outDir, src)
	if err != nil {
		return File{}, err
	}
	produced := filepath.Join(outDir, "input."+req.OutputFormat)
	if _, err := os.Stat(produced); err != nil {
		return File{}, newError(CodeInvalidFile, nil, "LibreOffice could not convert %s to %s (the file may be damaged or not a %s document)",
			displayName(in), req.OutputFormat, inFmt)
	}
	dst, name := uniquePath(req.OutDir, outputNames(req, baseName(in), req.OutputFormat, nil)[0])
	if err := moveFile(produced, dst); err != nil {
		return File{}, err
	}
	return statFile(name, dst)
}

func (r *Registry) libreOfficeVersion() string {
	r.Engines() // fills the versions once
	return r.loVersion
}

func (r *Registry) chromiumVersion() string {
	r.Engines()
	return r.chVersion
}

// captureWebsite loads options.url in headless Chromium and saves a
// screenshot (png, jpg) or a printed PDF.
func (r *Registry) captureWebsite(ctx context.Context, req Request, progress func(int)) (Result, error) {
	raw := optString(req.Options, "url")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// file:// and friends would let a task read the server's disk.
		return Result{}, newError(CodeInvalidOptions, nil, "capture-website needs an http or https url, got %q", short(raw))
	}
	files, err := r.chromium1(ctx, req, chromiumJob{target: u.String(), display: u.Redacted(), stem: SafeName(u.Hostname())}, progress)
	if err != nil {
		return Result{}, err
	}
	return Result{Files: files, Engine: engineChromium, EngineVersion: r.chromiumVersion()}, nil
}

// maxHTMLBytes bounds an HTML document converted by Chromium: it is held
// in memory and served to the browser from there.
const maxHTMLBytes = 64 << 20

// convertHTML renders each HTML input in headless Chromium as a PDF or a
// screenshot. The document is served by the guarded proxy, never opened
// as a file (see inputHost); what it loads from the network goes through
// the same guard as capture-website.
func (r *Registry) convertHTML(ctx context.Context, req Request, progress func(int)) (Result, error) {
	res := Result{Engine: engineChromium, EngineVersion: r.chromiumVersion()}
	for i, in := range req.Inputs {
		st, err := os.Stat(in.Path)
		if err != nil {
			return Result{}, newError(CodeInvalidFile, err, "%s cannot be opened", displayName(in))
		}
		if st.Size() > maxHTMLBytes {
			return Result{}, newError(CodeInvalidFile, nil, "%s is %s, larger than %s, the limit of HTML conversion", displayName(in), human(st.Size()), human(maxHTMLBytes))
		}
		page, err := os.ReadFile(in.Path)
		if err != nil {
			return Result{}, newError(CodeInvalidFile, err, "%s cannot be read", displayName(in))
		}
		files, err := r.chromium1(ctx, req, chromiumJob{target: "http://" + inputHost + "/", display: displayName(in), stem: baseName(in), page: page}, func(int) {})
		if err != nil {
			return Result{}, err
		}
		res.Files = append(res.Files, files...)
		progress((i + 1) * 100 / (len(req.Inputs) + 1))
	}
	return res, nil
}

// chromiumJob is one page for Chromium to print or photograph.
type chromiumJob struct {
	target  string // the URL Chromium loads
	display string // for messages
	stem    string // result name without extension
	page    []byte // the document served at inputHost, or nil
}

// chromiumArgs are the flags of every run: headless, and able to run as
// root in a container (no sandbox, no /dev/shm, no GPU), with a fresh
// profile and none of the browser's own background traffic.
func chromiumArgs(bin, profile string, width, height int) []string {
	return []string{bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-crash-reporter", "--disable-breakpad",
		"--disable-features=HttpsUpgrades,Translate,MediaRouter,OptimizationHints",
		"--hide-scrollbars", "--mute-audio", "--virtual-time-budget=5000",
		"--user-data-dir=" + profile,
		fmt.Sprintf("--window-size=%d,%d", width, height)}
}

// chromium1 runs Chromium once for job and returns the result file.
func (r *Registry) chromium1(ctx context.Context, req Request, job chromiumJob, progress func(int)) ([]File, error) {
	out := req.OutputFormat
	if r.chromium == "" {
		return nil, newError(CodeEngineNotAvailable, nil, "%s to %s needs Chromium, which is not installed; %s",
			req.Operation, out, installHint(engineChromium))
	}
	width, err := firstIntOpt(req.Options, 1920, "screen_width", "width")
	if err != nil {
		return nil, err
	}
	height, err := firstIntOpt(req.Options, 1080, "screen_height", "height")
	if err != nil {
		return nil, err
	}
	enc, err := readEncoding(req.Options, 90)
	if err != nil {
		return nil, err
	}
	work, cleanup, err := tempDir("engine-chromium-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	shot := filepath.Join(work, "capture.png")
	if out == "pdf" {
		shot = filepath.Join(work, "capture.pdf")
	}
	args := chromiumArgs(r.chromium, filepath.Join(work, "profile"), width, height)
	if req.Dial != nil || job.page != nil {
		// Every request of the page (redirects and subresources included)
		// goes through a local proxy that dials with req.Dial; loopback is
		// not bypassed, and WebRTC may not send UDP around it.
		proxy, err := startProxy(req.Dial, job.page)
		if err != nil {
			return nil, err
		}
		defer proxy.Close()
		args = append(args, "--proxy-server="+proxy.URL(), "--proxy-bypass-list=<-loopback>",
			"--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
	}
	if out == "pdf" {
		args = append(args, "--no-pdf-header-footer", "--print-to-pdf="+shot)
	} else {
		args = append(args, "--screenshot="+shot)
	}
	args = append(args, job.target)
	progress(10)
	if err := r.runTool(ctx, "Chromium", work, args...); err != nil {
		return nil, err
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		return nil, newError(CodeEngineFailed, err, "Chromium produced no %s for %s", out, job.display)
	}
	progress(80)
	name := outputNames(req, job.stem, out, nil)[0]
	if out == "jpg" {
		f, err := imageStep(ctx, r.limitsFor(req), File{Name: "screenshot.png", Path: shot}, sizeOpts{}, "jpg", enc, req.OutDir, name)
		if err != nil {
			return nil, err
		}
		return []File{f}, nil
	}
	dst, name := uniquePath(req.OutDir, name)
	if err := moveFile(shot, dst); err != nil {
		return nil, err
	}
	f, err := statFile(name, dst)
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}

func firstIntOpt(opts map[string]any, def int, keys ...string) (int, error) {
	for _, k := range keys {
		if _, ok := opts[k]; ok {
			return optRange(opts, k, 16, 10000, def)
		}
	}
	return def, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// moveFile renames, falling back to copy when src and dst are on different
// file systems (the temp dir often is).
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	if err := copyFile(src, dst); err != nil {
		return fmt.Errorf("move result: %w", err)
	}
	return os.Remove(src)
}
