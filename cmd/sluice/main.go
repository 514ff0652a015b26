// Command sluice is the change-data-capture daemon: `sluice run` streams
// every configured pipeline, `sluice validate` checks a configuration file
// without connecting to anything, `sluice snapshot` and `sluice signal`
// send signals (an ad-hoc snapshot, stop, pause, resume, log) to a running
// pipeline through its admin endpoint, or into the source's signal table
// when no daemon answers, and `sluice slots` / `sluice drop` list and
// retire what pipelines own on their servers.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/admin"
	"github.com/sluice-cdc/sluice/internal/buildinfo"
	"github.com/sluice-cdc/sluice/internal/cluster"
	"github.com/sluice-cdc/sluice/pipeline"

	// Plugins register themselves by name.
	_ "github.com/sluice-cdc/sluice/sink/elasticsearch"
	_ "github.com/sluice-cdc/sluice/sink/kafka"
	_ "github.com/sluice-cdc/sluice/sink/stdout"
	_ "github.com/sluice-cdc/sluice/source/kafka"
	_ "github.com/sluice-cdc/sluice/source/mysql"
	_ "github.com/sluice-cdc/sluice/source/postgres"
	_ "github.com/sluice-cdc/sluice/transform/join"
)

// Exit codes: 0 after a clean stop, 1 when the daemon (or a command) failed
// while running, 2 for a usage or configuration error.
func main() {
	if err := newRoot().Execute(); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "sluice:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errReported is returned by commands that already printed their errors.
var errReported = errors.New("errors reported")

// configError marks a usage or configuration error: exit code 2.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// exitCode is the process's exit code for a command's error.
func exitCode(err error) int {
	var ce configError
	if errors.As(err, &ce) || strings.HasPrefix(err.Error(), "unknown command") {
		return 2
	}
	return 1
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Change-data-capture daemon: database logs to Kafka and other sinks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return configError{err} })
	var cfgPath string
	root.PersistentFlags().StringVarP(&cfgPath, "config", "c", "sluice.yaml", "configuration file")

	root.AddCommand(&cobra.Command{
		Use:   "run",
		Short: "Run every pipeline until SIGTERM or SIGINT",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cfgPath)
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "validate",
		Short: "Check a configuration file without connecting to anything",
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Load(cfgPath)
			if f != nil {
				// Warnings of building (a deprecated key) go to
				// stderr beside the errors.
				warn := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level",
					EncodeLevel: zapcore.CapitalLevelEncoder}), zapcore.AddSync(cmd.ErrOrStderr()), zap.WarnLevel))
				pipes, berr := build(f, warn)
				_, cerr := clusterConfig(f, pipes)
				err = errors.Join(err, berr, cerr)
			}
			if err != nil {
				printErrors(cmd.ErrOrStderr(), cfgPath, err)
				return configError{errReported}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d pipeline(s))\n", cfgPath, len(f.Pipelines))
			return nil
		},
	})
	root.AddCommand(newSnapshotCmd(&cfgPath))
	root.AddCommand(newSignalCmd(&cfgPath))
	root.AddCommand(newDropCmd(&cfgPath))
	root.AddCommand(newSlotsCmd(&cfgPath))
	root.AddCommand(newClusterCmd(&cfgPath))
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the Go version of this build",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprint(cmd.OutOrStdout(), versionText()) },
	})
	root.Version = buildinfo.Get().Version
	root.SetVersionTemplate(versionText())
	return root
}

// versionText is what `sluice version` and `sluice --version` print.
func versionText() string {
	bi := buildinfo.Get()
	return fmt.Sprintf("sluice %s\ncommit %s\n%s\n", bi.Version, bi.Commit, bi.Go)
}

// printErrors prints one line per problem.
func printErrors(w io.Writer, path string, err error) {
	for _, e := range config.Flatten(err) {
		fmt.Fprintf(w, "%s: %v\n", path, e)
	}
}

// build builds every pipeline, collecting all problems.
func build(f *config.File, log *zap.Logger) ([]*pipeline.Pipeline, error) {
	var pipes []*pipeline.Pipeline
	var errs []error
	for _, name := range f.PipelineNames() {
		p, err := pipeline.Build(name, f.Pipelines[name], f.StateDir, log)
		if err != nil {
			errs = append(errs, f.WithLines(err))
			continue
		}
		pipes = append(pipes, p)
	}
	return pipes, errors.Join(errs...)
}

func newLogger(c config.Log) (*zap.Logger, error) {
	var zc zap.Config
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "ts"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	return zc.Build()
}

func run(ctx context.Context, cfgPath string) error {
	f, err := config.Load(cfgPath)
	if err != nil {
		return configError{err}
	}
	log, err := newLogger(f.Log)
	if err != nil {
		return configError{err}
	}
	defer log.Sync()
	pipes, err := build(f, log)
	if err != nil {
		return configError{err}
	}
	cc, err := clusterConfig(f, pipes)
	if err != nil {
		return configError{err}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		// The first signal drains (within each source's drain_timeout);
		// from now on the default action applies, so a second signal
		// ends the process at once.
		stop()
		log.Info("shutting down: draining the sinks; a second signal exits at once")
	}()

	// A permanent failure stops its pipeline, which then reports not
	// ready and failed, and the others go on: one broken database does
	// not take the rest down. With fail_fast, or once every pipeline has
	// failed, the daemon stops (exit 1). In cluster mode a failed
	// pipeline stays stopped on its member and the member goes on, unless
	// fail_fast.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	byName := map[string]*pipeline.Pipeline{}
	for _, p := range pipes {
		byName[p.Name] = p
	}
	var mu sync.Mutex
	var failures []error
	failed := func(name string, err error) {
		p := byName[name]
		p.Stats.Failed.Store(true)
		p.Stats.LastError.Store(err.Error())
		mu.Lock()
		failures = append(failures, fmt.Errorf("pipeline %s: %w", p.Name, err))
		all := len(failures) == len(pipes) && cc == nil
		mu.Unlock()
		switch {
		case f.FailFast:
			log.Error("pipeline failed; stopping the daemon (fail_fast)", zap.String("pipeline", p.Name), zap.Error(err))
			cancel(err)
		case all:
			log.Error("pipeline failed; no pipeline is left running", zap.String("pipeline", p.Name), zap.Error(err))
			cancel(err)
		default:
			log.Error("pipeline failed and stopped; the other pipelines go on", zap.String("pipeline", p.Name), zap.Error(err))
		}
	}

	var member *cluster.Member
	adminOpts := admin.Options{Pprof: f.HTTP.Pprof, LivenessTimeout: f.HTTP.LivenessTimeout}
	if cc != nil {
		if member, err = newMember(cc, f, pipes, log, failed); err != nil {
			return configError{err}
		}
		adminOpts.Owned, adminOpts.Ready, adminOpts.Collectors = member.Owned, member.Ready, member.Collectors()
	}
	if f.HTTP.Listen != "off" {
		srv, err := admin.New(f.HTTP.Listen, pipes, adminOpts)
		if err != nil {
			return fmt.Errorf("admin endpoints on %s: %w", f.HTTP.Listen, err)
		}
		log.Info("admin endpoints", zap.String("addr", srv.Addr()))
		go srv.Serve(ctx)
	}

	var wg sync.WaitGroup
	if member != nil {
		wg.Go(func() {
			if err := member.Run(ctx); err != nil {
				log.Error("cluster membership failed", zap.Error(err))
				cancel(err)
			}
		})
	} else {
		for _, p := range pipes {
			wg.Go(func() {
				if err := p.Run(ctx); err != nil {
					failed(p.Name, err)
				}
			})
		}
	}
	go warnUnusedSlots(ctx, pipes, log) // beside the pipelines: never delays the start
	bi := buildinfo.Get()
	log.Info("sluice started", zap.Int("pipelines", len(pipes)), zap.String("version", bi.Version), zap.String("commit", bi.Commit))
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err // the cluster membership failed
	}
	log.Info("sluice stopped")
	return nil
}
