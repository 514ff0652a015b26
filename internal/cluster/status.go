package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
)

// Status is the group as its coordinator describes it.
type Status struct {
	Group string `json:"group"`
	// State is the coordinator's: Stable, PreparingRebalance,
	// CompletingRebalance, Empty or Dead.
	State   string         `json:"state"`
	Members []MemberStatus `json:"members"`
	// Unassigned are the pipelines no member runs.
	Unassigned []string `json:"unassigned"`
	// Mismatch, when not empty, says how this configuration differs from
	// the one the group runs.
	Mismatch string `json:"mismatch,omitempty"`
}

// MemberStatus is one member and the pipelines assigned to it.
type MemberStatus struct {
	Name      string   `json:"member"`
	Version   string   `json:"version"`
	Host      string   `json:"host"`
	MemberID  string   `json:"member_id"`
	Pipelines []string `json:"pipelines"`
}

// ReadStatus describes the group of cfg, naming the pipelines as specs
// (this configuration) does, or as the group's protocol does when the
// two differ.
func ReadStatus(ctx context.Context, cfg *Config, specs []Spec) (*Status, error) {
	conn, err := kafkaconn.Opts(cfg.TLS, cfg.SASL)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cl, err := kgo.NewClient(append(conn, kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer cl.Close()
	specs = slices.Clone(specs)
	slices.SortFunc(specs, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	return describe(ctx, kadm.NewClient(cl), cfg, specs)
}

// describeGroup describes the group, retrying what Kafka says to retry
// (a coordinator still loading, as on a new cluster whose
// __consumer_offsets is being made) until ctx ends.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (kadm.DescribedGroup, error) {
	for {
		gs, err := adm.DescribeGroups(ctx, group)
		var g kadm.DescribedGroup
		if err == nil {
			var ok bool
			if g, ok = gs[group]; !ok {
				err = errors.New("no answer")
			} else {
				err = g.Err
			}
		}
		if err == nil || errors.Is(err, kerr.GroupIDNotFound) || !kerr.IsRetriable(err) && !errors.Is(err, kerr.CoordinatorNotAvailable) {
			return g, err
		}
		select {
		case <-ctx.Done():
			return g, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func describe(ctx context.Context, adm *kadm.Client, cfg *Config, specs []Spec) (*Status, error) {
	g, err := describeGroup(ctx, adm, cfg.Group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("cluster: describe group %s: %w", cfg.Group, err)
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		g = kadm.DescribedGroup{Group: cfg.Group, State: "Dead"} // no member ever joined, or all left long ago
	}
	st := &Status{Group: cfg.Group, State: g.State, Members: []MemberStatus{}, Unassigned: []string{}}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	mine := protocolName(specs)
	if g.Protocol != "" && g.Protocol != mine {
		st.Mismatch = mismatch(g.Protocol, mine, names)
		if theirs := parseProtocol(g.Protocol); len(theirs.names) > 0 {
			names = theirs.names
		}
	}
	taken := make([]bool, len(names))
	for _, gm := range g.Members {
		ms := MemberStatus{Name: gm.ClientID, Host: strings.TrimPrefix(gm.ClientHost, "/"), MemberID: gm.MemberID, Pipelines: []string{}}
		if parts := strings.SplitN(gm.ClientID, "/", 3); len(parts) == 3 && parts[0] == "sluice" {
			ms.Version, ms.Name = parts[1], parts[2]
		}
		if a, ok := gm.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				if t.Topic != cfg.Topic {
					continue
				}
				for _, p := range t.Partitions {
					if int(p) < len(names) {
						ms.Pipelines = append(ms.Pipelines, names[p])
						taken[p] = true
					}
				}
			}
		}
		slices.Sort(ms.Pipelines)
		st.Members = append(st.Members, ms)
	}
	slices.SortFunc(st.Members, func(a, b MemberStatus) int { return strings.Compare(a.Name+a.MemberID, b.Name+b.MemberID) })
	for i, n := range names {
		if !taken[i] {
			st.Unassigned = append(st.Unassigned, n)
		}
	}
	return st, nil
}

// mismatch says how this member's protocol (mine, of the pipelines
// names) differs from the group's.
func mismatch(group, mine string, names []string) string {
	theirs, ours := parseProtocol(group), parseProtocol(mine)
	switch {
	case !theirs.ok:
		return fmt.Sprintf("the group runs protocol %q, not sluice's: is another application using group id?", group)
	case theirs.version != ours.version:
		return fmt.Sprintf("the group's members speak cluster protocol %s, this sluice %s: upgrade all members", theirs.version, ours.version)
	case len(theirs.names) == 0 || len(ours.names) == 0:
		return fmt.Sprintf("the group runs another pipeline set or shape: fingerprint %s, this member's %s", theirs.hash, ours.hash)
	default:
		var only, missing []string
		for _, n := range names {
			if !slices.Contains(theirs.names, n) {
				only = append(only, n)
			}
		}
		for _, n := range theirs.names {
			if !slices.Contains(names, n) {
				missing = append(missing, n)
			}
		}
		if len(only) > 0 || len(missing) > 0 {
			return fmt.Sprintf("the group runs other pipelines: only in this configuration %v, only in the group's %v", only, missing)
		}
	}
	return fmt.Sprintf("the group runs the same pipeline names with another shape (a source type or a sink differs): fingerprint %s, this member's %s", theirs.hash, ours.hash)
}

// describeMismatch is the mismatch report of a member the coordinator
// refused.
func (m *Member) describeMismatch(ctx context.Context) string {
	conn, err := kafkaconn.Opts(m.cfg.TLS, m.cfg.SASL)
	if err != nil {
		return err.Error()
	}
	cl, err := kgo.NewClient(append(conn, kgo.SeedBrokers(m.cfg.Brokers...))...)
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	st, err := describe(ctx, kadm.NewClient(cl), m.cfg, m.specs())
	if err != nil {
		return "the coordinator refused this member's pipeline set (describing the group failed: " + err.Error() + ")"
	}
	if st.Mismatch == "" {
		return "the coordinator refused this member's pipeline set"
	}
	return st.Mismatch
}
