package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/pipeline"
)

// signalTarget is the flags every signalling command shares.
type signalTarget struct {
	cfgPath *string
	pipe    string
	admin   string
}

func (t *signalTarget) flags(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&t.pipe, "pipeline", "", "pipeline name (default: the only one)")
	fs.StringVar(&t.admin, "admin", "", "the running daemon's admin endpoint, e.g. http://127.0.0.1:9187 (default: the config file's http.listen)")
}

// adminTimeout bounds a request to the daemon: checking a snapshot
// request queries the database's catalog.
const adminTimeout = 2 * time.Minute

// send delivers s to the pipeline: through the running daemon's admin
// endpoint (POST /signals) when one answers, else, when nothing listens
// there, through the source itself (sluice.SignalWriter). A refusal is an
// error naming the reason, whichever way it went.
func (t *signalTarget) send(cmd *cobra.Command, s sluice.Signal) error {
	f, err := config.Load(*t.cfgPath)
	if err != nil {
		return configError{err}
	}
	if t.pipe == "" {
		if len(f.Pipelines) != 1 {
			return configError{fmt.Errorf("the file has %d pipelines: name one with --pipeline", len(f.Pipelines))}
		}
		t.pipe = f.PipelineNames()[0]
	}
	cfg, ok := f.Pipelines[t.pipe]
	if !ok {
		return configError{fmt.Errorf("no pipeline %q in %s", t.pipe, *t.cfgPath)}
	}
	if s.ID == "" {
		s.ID = sluice.NewSignalID()
	}
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	base, err := adminBase(f.HTTP.Listen, t.admin)
	if err != nil {
		return configError{err}
	}
	why := "the admin endpoint is off (http.listen)"
	if base != "" {
		answered, err := t.post(ctx, out, base, s)
		if answered || err != nil {
			return err
		}
		why = "no daemon answered at " + base
	}

	p, err := pipeline.Build(t.pipe, cfg, f.StateDir, zap.NewNop())
	if err != nil {
		return configError{err}
	}
	w, ok := p.Source.(sluice.SignalWriter)
	if !ok {
		return fmt.Errorf("pipeline %s: %s, and its source cannot take the signal without one: start the daemon (sluice run) with the admin endpoint on", t.pipe, why)
	}
	if err := w.WriteSignal(ctx, s); err != nil {
		return fmt.Errorf("pipeline %s: %w", t.pipe, err)
	}
	fmt.Fprintf(out, "pipeline %s: signal %s (%s) written to the source's signal table (%s)\n", t.pipe, s.ID, s.Type, why)
	return nil
}

// post offers s to the daemon at base. answered is false when nothing
// listens there (or the daemon's source takes no signals that way): the
// caller falls back to the source.
func (t *signalTarget) post(ctx context.Context, out io.Writer, base string, s sluice.Signal) (answered bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	u := base + "/signals?pipeline=" + url.QueryEscape(t.pipe)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(sluice.EncodeSignal(s)))
	if err != nil {
		return false, configError{fmt.Errorf("--admin: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("admin endpoint %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(b))
	switch resp.StatusCode {
	case http.StatusAccepted:
		fmt.Fprintln(out, msg)
		return true, nil
	case http.StatusNotImplemented:
		return false, nil
	case http.StatusBadRequest:
		return true, errors.New(msg)
	}
	return true, fmt.Errorf("admin endpoint %s: %s: %s", base, resp.Status, msg)
}

// adminBase is the URL of the daemon's admin endpoint: override when set
// (a URL or host:port), else from http.listen, with an unspecified host
// (":9187", "0.0.0.0:9187") reached on loopback. Empty: there is none to
// ask (http.listen off, or port 0, which the daemon picks at start).
func adminBase(listen, override string) (string, error) {
	if override != "" {
		if !strings.Contains(override, "://") {
			override = "http://" + override
		}
		u, err := url.Parse(override)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("--admin %q: not a URL such as http://127.0.0.1:9187", override)
		}
		return strings.TrimRight(override, "/"), nil
	}
	if listen == "off" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return "", nil
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// newSignalCmd is `sluice signal`: any signal, in Debezium's format.
func newSignalCmd(cfgPath *string) *cobra.Command {
	t := &signalTarget{cfgPath: cfgPath}
	var s sluice.Signal
	cmd := &cobra.Command{
		Use:   "signal --type TYPE [--data JSON] [--id ID]",
		Short: "Send a signal (Debezium's format) to a pipeline",
		Long: "Sends a signal to a pipeline's source: execute-snapshot, stop-snapshot, pause-snapshot,\n" +
			"resume-snapshot or log, with its data as Debezium documents it, e.g.\n\n" +
			"  sluice signal --type log --data '{\"message\": \"deploy 42 starts\"}'\n\n" +
			"It goes to the running daemon's admin endpoint (POST /signals); when nothing listens\n" +
			"there, it is written into the source's signal table. A refused signal exits non-zero\n" +
			"with the reason.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if d := strings.TrimSpace(s.Data); d != "" && !json.Valid([]byte(d)) {
				return configError{fmt.Errorf("--data %q is not JSON", s.Data)}
			}
			return t.send(cmd, s)
		},
	}
	cmd.Flags().StringVar(&s.Type, "type", "", "signal type: execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot, log")
	cmd.Flags().StringVar(&s.Data, "data", "", "the signal's data, a JSON object")
	cmd.Flags().StringVar(&s.ID, "id", "", "the signal's id (default: sluice- and a random suffix)")
	t.flags(cmd.Flags())
	cmd.MarkFlagRequired("type")
	return cmd
}
