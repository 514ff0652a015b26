package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// protocolVersion is the version of how members agree on pipelines (the
// topic's partitions, the fingerprint). Members of another version do not
// join the same group: the coordinator refuses the protocol.
const protocolVersion = "sluice1"

// maxNamesInProtocol bounds the pipeline names the protocol name carries
// for mismatch reports; a longer list is left out (the hash still
// compares).
const maxNamesInProtocol = 2000

// Spec is what members must agree on about one pipeline.
type Spec struct {
	// Name is the pipeline's name.
	Name string
	// Shape is what else must match: the source type and the sinks'
	// names and types (not their settings, which may differ per member,
	// e.g. a file path).
	Shape string
}

// protocolName is the group protocol of a pipeline set, sorted by name:
// "sluice1:<hash>:<names>", the names query-escaped and comma-separated.
func protocolName(specs []Spec) string {
	h := sha256.New()
	names := make([]string, len(specs))
	for i, s := range specs {
		fmt.Fprintf(h, "%s\x00%s\n", s.Name, s.Shape)
		names[i] = url.QueryEscape(s.Name)
	}
	p := protocolVersion + ":" + hex.EncodeToString(h.Sum(nil)[:6]) + ":"
	if list := strings.Join(names, ","); len(list) <= maxNamesInProtocol {
		p += list
	}
	return p
}

// parsedProtocol is a protocol name read back: its hash and, when it
// carried them, the pipeline names.
type parsedProtocol struct {
	version, hash string
	names         []string
	ok            bool // a sluice protocol
}

func parseProtocol(p string) parsedProtocol {
	parts := strings.SplitN(p, ":", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "sluice") {
		return parsedProtocol{}
	}
	pp := parsedProtocol{version: parts[0], hash: parts[1], ok: true}
	if parts[2] != "" {
		for _, n := range strings.Split(parts[2], ",") {
			if u, err := url.QueryUnescape(n); err == nil {
				pp.names = append(pp.names, u)
			}
		}
	}
	return pp
}

// balancer is franz-go's cooperative sticky balancer under a protocol
// name that carries the pipeline set, balancing the first n partitions
// of the cluster topic, one per pipeline. Sticky: a rebalance keeps
// every pipeline that stays where it runs; cooperative: members do not
// stop what they keep.
type balancer struct {
	kgo.GroupBalancer
	name  string
	topic string
	n     int32
}

func newBalancer(specs []Spec, topic string) *balancer {
	return &balancer{GroupBalancer: kgo.CooperativeStickyBalancer(), name: protocolName(specs), topic: topic, n: int32(len(specs))}
}

func (b *balancer) ProtocolName() string { return b.name }

func (b *balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	mb, topics, err := b.GroupBalancer.MemberBalancer(members)
	if err != nil {
		return nil, nil, err
	}
	return &memberBalancer{inner: mb, b: b}, topics, nil
}

// memberBalancer balances exactly one partition of the cluster topic per
// pipeline, whatever count the leader's metadata shows: more are left
// from a larger pipeline set; fewer means the metadata lags behind the
// member that grew the topic, since every member grows it to its
// pipelines before joining and all members share the pipeline set.
type memberBalancer struct {
	inner kgo.GroupMemberBalancer
	b     *balancer
}

func (m *memberBalancer) onePerPipeline(topics map[string]int32) {
	topics[m.b.topic] = m.b.n
}

func (m *memberBalancer) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	m.onePerPipeline(topics)
	return m.inner.Balance(topics)
}

func (m *memberBalancer) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	m.onePerPipeline(topics)
	if oe, ok := m.inner.(kgo.GroupMemberBalancerOrError); ok {
		return oe.BalanceOrError(topics)
	}
	return m.inner.Balance(topics), nil
}

func (m *memberBalancer) SetBalanceInfo(info kgo.BalanceInfo) {
	if ib, ok := m.inner.(kgo.GroupMemberBalancerInfo); ok {
		ib.SetBalanceInfo(info)
	}
}
