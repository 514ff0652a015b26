package mysql

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

// TestClassifyDumpError: the server's refusal to read the binlog at the
// stored position is permanent and names the fix; other dump errors are
// retried. Both keep the cause for errors.Is and errors.As.
func TestClassifyDumpError(t *testing.T) {
	purged := &mysql.MyError{Code: mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, Message: "Could not find first log file name in binary log index file"}
	err := classifyDumpError(purged)
	var me *mysql.MyError
	if !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "when_needed") || !errors.As(err, &me) {
		t.Errorf("purged position: %v (permanent %v), want a permanent error naming when_needed", err, sluice.IsPermanent(err))
	}
	err = classifyDumpError(io.ErrUnexpectedEOF)
	if sluice.IsPermanent(err) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), "mysql source: ") {
		t.Errorf("lost connection: %v, want a retried error with the prefix", err)
	}
}
