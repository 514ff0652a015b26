package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/buildinfo"
	"github.com/sluice-cdc/sluice/internal/cluster"
	"github.com/sluice-cdc/sluice/pipeline"
)

// clusterConfig decodes the cluster block, if any, and refuses pipelines
// whose resume state would stay on this machine: a pipeline moves between
// members, and its state must be where every member finds it.
func clusterConfig(f *config.File, pipes []*pipeline.Pipeline) (*cluster.Config, error) {
	if f.Cluster == nil {
		return nil, nil
	}
	cc, err := cluster.Parse(f.Cluster, "cluster")
	errs := []error{err}
	for _, p := range pipes {
		if ls, ok := p.Source.(sluice.LocalStater); ok {
			if why := ls.LocalState(); why != "" {
				errs = append(errs, fmt.Errorf("pipelines.%s.source.%s: cluster mode moves pipelines between machines", p.Name, why))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, f.WithLines(err)
	}
	return cc, nil
}

// shape is what every member must agree on about a pipeline besides its
// name: the source type and the sinks' names and types.
func shape(c config.Pipeline) string {
	sinks := make([]string, 0, len(c.Sinks))
	for name, block := range c.Sinks {
		typ, _ := block["type"].(string)
		if typ == "" {
			typ = name
		}
		sinks = append(sinks, name+":"+typ)
	}
	slices.Sort(sinks)
	typ, _ := c.Source["type"].(string)
	return "source=" + typ + " sinks=" + strings.Join(sinks, ",")
}

func clusterSpecs(f *config.File) []cluster.Spec {
	var specs []cluster.Spec
	for _, name := range f.PipelineNames() {
		specs = append(specs, specOf(f, name))
	}
	return specs
}

// specOf is what the members of a cluster compare of one pipeline.
func specOf(f *config.File, name string) cluster.Spec {
	return cluster.Spec{Name: name, Shape: shape(f.Pipelines[name])}
}

// newMember makes the pipelines the jobs of a cluster member.
func newMember(cc *cluster.Config, f *config.File, pipes []*pipeline.Pipeline, log *zap.Logger, onFailure func(string, error)) (*cluster.Member, error) {
	jobs := make([]cluster.Job, 0, len(pipes))
	for _, p := range pipes {
		run := func(ctx context.Context) error {
			// Assigned here again: a failure of an earlier tenure is over.
			p.Stats.Failed.Store(false)
			return p.Run(ctx)
		}
		j := cluster.Job{Spec: specOf(f, p.Name), Run: run}
		if h, ok := p.Source.(sluice.Handover); ok {
			j.WaitReleased = h.WaitReleased
		}
		jobs = append(jobs, j)
	}
	return cluster.New(cc, jobs, cluster.Options{Logger: log, Version: buildinfo.Get().Version, OnFailure: onFailure})
}

func newClusterCmd(cfgPath *string) *cobra.Command {
	c := &cobra.Command{Use: "cluster", Short: "Inspect a cluster of sluice processes sharing pipelines"}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status [--json]",
		Short: "Print which member of the cluster runs which pipeline",
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := config.Load(*cfgPath)
			if err != nil {
				return configError{err}
			}
			if f.Cluster == nil {
				return configError{fmt.Errorf("%s: no cluster block: this configuration runs every pipeline in one process", *cfgPath)}
			}
			cc, err := cluster.Parse(f.Cluster, "cluster")
			if err != nil {
				return configError{f.WithLines(err)}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, err := cluster.ReadStatus(ctx, cc, clusterSpecs(f))
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "group %s: %s, %d member(s)\n", st.Group, st.State, len(st.Members))
			if st.Mismatch != "" {
				fmt.Fprintf(w, "mismatch: %s\n", st.Mismatch)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MEMBER\tVERSION\tHOST\tPIPELINES")
			for _, m := range st.Members {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Version, m.Host, strings.Join(m.Pipelines, ","))
			}
			tw.Flush()
			if len(st.Unassigned) > 0 {
				fmt.Fprintf(w, "unassigned: %s\n", strings.Join(st.Unassigned, ", "))
			}
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.AddCommand(status)
	return c
}
