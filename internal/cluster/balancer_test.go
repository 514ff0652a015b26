package cluster

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// specs are pipelines of the given names, all of one shape.
func specs(names ...string) []Spec {
	s := make([]Spec, len(names))
	for i, n := range names {
		s[i] = Spec{Name: n, Shape: "source=postgres sinks=kafka:kafka"}
	}
	return s
}

// TestBalancerAssignsEveryPipeline: the leader balances exactly one
// partition per pipeline whatever partition count its metadata shows.
// Every member grew the topic to its pipelines before joining, so a
// smaller count is only the leader's metadata lagging behind a member's
// growth (CI: the last pipeline stayed unassigned for a minute).
func TestBalancerAssignsEveryPipeline(t *testing.T) {
	const topic = "sluice_cluster_t"
	pipelines := specs("a", "b", "c", "d", "e", "f", "g")
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	members := []kmsg.JoinGroupResponseMember{{MemberID: "m1", ProtocolMetadata: meta.AppendTo(nil)}}
	for _, tc := range []struct {
		name   string
		topics map[string]int32
	}{
		{"metadata shows fewer partitions", map[string]int32{topic: 6}},
		{"as many", map[string]int32{topic: 7}},
		{"more, left from a larger set", map[string]int32{topic: 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBalancer(pipelines, topic)
			mb, _, err := b.MemberBalancer(members)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(tc.topics)
			if err != nil {
				t.Fatal(err)
			}
			var got []int32
			for _, a := range plan.IntoSyncAssignment() {
				var ca kmsg.ConsumerMemberAssignment
				if err := ca.ReadFrom(a.MemberAssignment); err != nil {
					t.Fatal(err)
				}
				for _, tp := range ca.Topics {
					got = append(got, tp.Partitions...)
				}
			}
			slices.Sort(got)
			if want := []int32{0, 1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
				t.Errorf("assigned %v, want %v", got, want)
			}
		})
	}
}
