package testenv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeleteTopicsAtEnd deletes, when the test ends, every topic on brokers
// (comma-separated) that is named prefix or starts with prefix + ".": the
// topics a pipeline whose topic prefix is prefix created (its table
// topics, its message topic, MySQL's schema change topic). Register it
// before starting what creates the topics, so that it runs after that
// has stopped (cleanups run last-registered first).
func DeleteTopicsAtEnd(t testing.TB, brokers, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		names := Topics(t, brokers, prefix)
		if len(names) == 0 {
			return
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
		if err != nil {
			t.Errorf("delete topics %v: %v", names, err)
			return
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := kadm.NewClient(cl).DeleteTopics(ctx, names...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Errorf("delete topics %v: %v", names, err)
		}
	})
}

// Topics lists the topics on brokers (comma-separated) named prefix or
// starting with prefix + ".".
func Topics(t testing.TB, brokers, prefix string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, name := range topics.Names() {
		if name == prefix || strings.HasPrefix(name, prefix+".") {
			names = append(names, name)
		}
	}
	return names
}

// DeleteGroupAtEnd deletes the consumer group on brokers when the test
// ends; a group that is already gone is fine. Register it before starting
// the members, so that it runs after they left.
func DeleteGroupAtEnd(t testing.TB, brokers, group string) {
	t.Helper()
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
		if err != nil {
			t.Errorf("delete group %s: %v", group, err)
			return
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A member killed at the test's end stays until its session
		// times out.
		for {
			var resp kadm.DeleteGroupResponse
			resp, err = kadm.NewClient(cl).DeleteGroup(ctx, group)
			if err == nil {
				err = resp.Err
			}
			if !errors.Is(err, kerr.NonEmptyGroup) || ctx.Err() != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			t.Errorf("delete group %s: %v", group, err)
		}
	})
}
