package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// pprofHook is compiled into the profiling build of cmd/sluice through
// `go build -overlay`: the daemon's own code is untouched, the hook only
// acts when SLUICE_BENCH_PPROF is set.
//
//go:embed pprofhook.go.txt
var pprofHook []byte

// buildSluice builds ./cmd/sluice of the module at root into dir, as the
// Makefile does (CGO_ENABLED=0, -trimpath). With profiling it adds the
// pprof hook file to package main through an overlay.
func buildSluice(ctx context.Context, root, dir string, profiling bool) (string, error) {
	name := "sluice"
	args := []string{"build", "-trimpath"}
	if profiling {
		name = "sluice-pprof"
		hook := filepath.Join(dir, "pprofhook.go")
		if err := os.WriteFile(hook, pprofHook, 0o644); err != nil {
			return "", err
		}
		ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(root, "cmd", "sluice", "zz_sluice_bench_pprof.go"): hook}})
		ovPath := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
			return "", err
		}
		args = append(args, "-overlay", ovPath)
	}
	out := filepath.Join(dir, name)
	args = append(args, "-o", out, "./cmd/sluice")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, b)
	}
	return out, nil
}

// daemonConfig is one sluice run's YAML: one pipeline, its tables, one
// kafka sink writing to topic, on slot and publication made by the driver.
// The snapshot workload snapshots the table at start (mode always: the
// slot exists already); every other workload only streams.
func daemonConfig(o *options, w workload, pipeline, slot, publication string, tables []string, topic string) string {
	snapshot := "{mode: never}"
	if w.Kind == "snapshot" {
		snapshot = "{mode: always}"
		if w.ChunkSize > 0 {
			snapshot = fmt.Sprintf("{mode: always, chunk_size: %d}", w.ChunkSize)
		}
	}
	return runConfig(o, pipeline, pgSource(o, slot, publication, tables, snapshot), topic)
}

// pgSource is the postgres source block of a run (its lines after
// "source:", indented by six) on slot, with the snapshot setting.
func pgSource(o *options, slot, publication string, tables []string, snapshot string) string {
	return fmt.Sprintf(`type: postgres
      dsn: %s
      slot: %s
      publication: %s
      tables: [public.%s]
      status_interval: 1s
      drain_timeout: 30s
      snapshot: %s`, o.pgDSN, slot, publication, strings.Join(tables, ", public."), snapshot)
}

// runConfig is the YAML of one run: pipeline with the source block (its
// lines after "source:", indented by six) and a kafka sink writing to
// topic with the driver's producer settings.
func runConfig(o *options, pipeline, source, topic string) string {
	return fmt.Sprintf(`log: {level: warn, format: json}
http: {listen: "off"}
pipelines:
  %s:
    source:
      %s
    sinks:
      kafka:
        brokers: [%s]
        topic: %q
        compression: %s
        linger: %s
        topic_creation: {partitions: %d}
`, pipeline, source, strings.Join(o.brokers, ", "), topic, o.compression, o.linger, o.partitions)
}

// daemon is a process the benchmark measures: sluice, or Debezium Server
// beside it (debezium.go).
type daemon struct {
	name    string // in errors: "sluice", "Debezium Server"
	cmd     *exec.Cmd
	logTail func() string         // the last lines of its output
	clean   func(exit error) bool // whether Wait's result after SIGTERM is a clean stop
	done    chan struct{}
	err     error // Wait's result, set before done is closed
	started time.Time
	pprof   string
}

// startDaemon runs `bin run --config cfg` in dir (its state directory
// lands there). With pprof set, the profiling build writes its profiles
// to pprof.{cpu,allocs,heap} when stopProfile is called. sluice stops
// cleanly with exit status 0.
func startDaemon(bin, dir, cfg, pprof string) (*daemon, error) {
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	log := &bytes.Buffer{}
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = os.Environ()
	if pprof != "" {
		cmd.Env = append(cmd.Env, "SLUICE_BENCH_PPROF="+pprof)
	}
	d := &daemon{name: "sluice", cmd: cmd, pprof: pprof,
		logTail: func() string { return tail(log.String(), 3000) },
		clean:   func(exit error) bool { return exit == nil }}
	return d, d.start()
}

// start starts the command and watches for its exit.
func (d *daemon) start() error {
	d.done = make(chan struct{})
	d.started = time.Now()
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.name, err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	return nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// alive returns an error once the process has exited.
func (d *daemon) alive() error {
	select {
	case <-d.done:
		return fmt.Errorf("%s exited (%v); log:\n%s", d.name, d.err, d.logTail())
	default:
		return nil
	}
}

// startTrace asks the profiling build to start its execution trace
// (gtrace.go) and waits until it runs: the kernel would deliver a
// SIGUSR1 sent right after before the SIGUSR2. stopProfile stops it.
func (d *daemon) startTrace(timeout time.Duration) error {
	if err := d.signalAndWait(syscall.SIGUSR2, ".tracing", timeout); err != nil {
		return fmt.Errorf("sluice did not start its execution trace: %w", err)
	}
	return nil
}

// stopProfile asks the profiling build to write its profiles and waits
// until they are complete.
func (d *daemon) stopProfile(timeout time.Duration) error {
	if err := d.signalAndWait(syscall.SIGUSR1, ".done", timeout); err != nil {
		return fmt.Errorf("sluice did not write its profiles: %w", err)
	}
	return nil
}

// signalAndWait sends sig to the profiling build and waits until the
// file it creates in answer (the profile path plus ext) exists. It does
// nothing for a build without profiling.
func (d *daemon) signalAndWait(sig os.Signal, ext string, timeout time.Duration) error {
	if d.pprof == "" {
		return nil
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(d.pprof + ext); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no %s after %v", d.pprof+ext, timeout)
}

// stop sends SIGTERM and waits for a clean exit; after timeout it kills
// the process. Once the process has exited it only reports how.
func (d *daemon) stop(timeout time.Duration) error {
	select {
	case <-d.done:
	default:
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(timeout):
			_ = d.cmd.Process.Kill()
			<-d.done
			return fmt.Errorf("%s did not stop within %s after SIGTERM; log:\n%s", d.name, timeout, d.logTail())
		}
	}
	if !d.clean(d.err) {
		return fmt.Errorf("%s: %v; log:\n%s", d.name, d.err, d.logTail())
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// indentLines prefixes every non-empty line of block with n spaces.
func indentLines(block string, n int) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(strings.Repeat(" ", n))
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
