package join

import (
	"bytes"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Expand re-emits, after a lookup row changed, the current enriched form
// of every row that refers to it (Kafka's foreign-key join, KIP-213):
// op u, the struct as it was in before and as it is now in after, at the
// change's position, with the CauseHeader header. The rows come from the
// store as of the change, one at a time, so a customer with a million
// orders costs time, not memory; max_reemit bounds the work per change.
func (j *Join) Expand(ev *sluice.Event, emit func(*sluice.Event) error) error {
	if j.pending.n == 0 {
		return nil
	}
	c := j.pending
	j.pending = change{}
	v := versionOf(ev)
	headers := []sluice.Header{{Name: CauseHeader, Value: []byte(j.cfg.Lookup), Text: j.cfg.Lookup}}
	for n := range c.n {
		oldS, err := j.structOf(c.oldSh[n], c.old[n])
		if err != nil {
			return err
		}
		newS, err := j.structOf(c.neuSh[n], c.neu[n])
		if err != nil {
			return err
		}
		if c.neu[n] == nil && j.missing != missingNull {
			continue // rows whose lookup row is gone are not re-emitted with null under drop or error
		}
		prefix := append([]byte{spaceReverse}, c.keys[n]...)
		count, skipped := 0, 0
		err = j.st.scan(prefix, v, func(rowKey, _ []byte) (bool, error) {
			if count >= j.cfg.MaxReemit {
				skipped++
				return true, nil
			}
			out, err := j.reemitted(ev, bytes.Clone(rowKey), v, oldS, newS, headers)
			if err != nil || out == nil {
				return err == nil, err
			}
			count++
			return true, emit(out)
		})
		if err != nil {
			return err
		}
		j.stats.reemitted.Add(int64(count))
		j.stats.observeFanout(count)
		if skipped > 0 {
			j.stats.reemitSkipped.Add(int64(skipped))
			j.log.Warn("a lookup change refers to more rows than max_reemit: the rest were not re-emitted",
				zap.String("lookup", j.cfg.Lookup), zap.Int("reemitted", count), zap.Int("skipped", skipped),
				zap.Int("max_reemit", j.cfg.MaxReemit))
		}
	}
	return nil
}

// reemitted builds the re-emitted event of the stored row at rowKey.
func (j *Join) reemitted(cause *sluice.Event, rowKey []byte, v version, oldS, newS sluice.Value, headers []sluice.Header) (*sluice.Event, error) {
	sh, row, err := j.stored(spaceRows, rowKey, v)
	if err != nil || row == nil {
		return nil, err
	}
	s, err := j.shapeByID(sh)
	if err != nil {
		return nil, err
	}
	in, err := j.info(s.table)
	if err != nil {
		return nil, err
	}
	et, err := j.enrichInfo(in, s.table)
	if err != nil {
		return nil, err
	}
	return &sluice.Event{
		Op:         sluice.OpUpdate,
		Table:      j.outTable(et),
		Before:     withField(row, oldS),
		After:      withField(row, newS),
		Pos:        cause.Pos,
		CommitTime: cause.CommitTime,
		TxID:       cause.TxID,
		Binlog:     cause.Binlog,
		Row:        cause.Row,
		Headers:    headers,
	}, nil
}
