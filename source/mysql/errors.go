package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

// Errors reach the runner through Run's return value. The runner retries
// all but permanent ones (sluice.IsPermanent) with backoff, and a retry
// starts over from the stored offset. Every error the source makes starts
// with "mysql source:" (errors of the emit callback and sluice.ErrDone
// pass through as they are); helpers below Run (value conversion, the offset
// stores, DSN parsing) return bare messages that their callers wrap once,
// with that prefix or, for configuration, with the key path
// ("source.dsn: …").
//
// Permanent: what the precondition checks in setup.go refuse (binlog
// settings, server_id, grants, missing or unreadable tables), each with
// its fix; a stored binlog file the server no longer has (Run) or cannot
// send (classifyDumpError); a stored offset of another server (Run's
// sameServer) or one that does not decode (the offset stores' Load); a
// stored GTID set that does not parse (offsetPosition); an empty SHOW
// MASTER STATUS (currentPosition); a table map without column names
// (stream.tableMap); TLS that cannot work as configured (unreadable
// files, a certificate that does not verify, a server without TLS:
// classifyConnectError); more rows of prepared XA transactions than
// xa_max_rows (xa.go).
// Everything else is retried: lost connections, including the stall
// guard's "no binlog event or heartbeat" (stall.go), and offset store
// failures, until writes have failed for offsetGiveUp (offsets.go).

// errZero is what parseDate (and parseDatetime through it) returns for a
// date with a zero month or day, such as MySQL's 0000-00-00. It never
// leaves the package: colInfo.parse turns it into null, or into the epoch
// in a NOT NULL column (colInfo.zero), as Debezium does.
var errZero = errors.New("zero date")

// classifyDumpError classifies an error of the binlog dump
// (BinlogStreamer.GetEvent), which stream.run and so Run return. The
// server's refusal to read the binlog at the requested position
// (ER_MASTER_FATAL_ERROR_READING_BINLOG, in practice a purged position:
// Run checks the file before the dump, but a GTID position or a file purged
// after that check is only noticed here) is permanent and says how to
// recover, since a retry would ask for the same position. Anything else,
// such as a dropped connection, is retried.
func classifyDumpError(err error) error {
	var me *mysql.MyError
	if errors.As(err, &me) && me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return sluice.Permanent(fmt.Errorf("mysql source: the server cannot send the stored binlog position (%s); it was probably purged: "+
			"set snapshot.mode to when_needed to take a new snapshot, or delete the stored offset: %w", me.Message, err))
	}
	return fmt.Errorf("mysql source: binlog stream: %w", err)
}

// classifyConnectError wraps an error of opening a connection (what:
// "connect to host:port as user", "start binlog dump"). TLS failures are
// permanent and say which setting to look at: a retry would present the
// same certificate to the same settings. Anything else (the server is
// down, the network) is retried.
func classifyConnectError(what string, err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		header   tls.RecordHeaderError
	)
	var hint string
	switch {
	case errors.As(err, &unknown):
		hint = "the server's certificate is not signed by a CA in tls.ca_file (the system roots when it is unset)"
	case errors.As(err, &hostname):
		hint = fmt.Sprintf("the server's certificate is not valid for %q: set tls.server_name to a name it holds, or connect by that name", hostname.Host)
	case errors.As(err, &invalid):
		hint = "the server's certificate is not valid (expired, or not for a server)"
	case errors.As(err, &verify):
		hint = "the server's certificate does not verify"
	case errors.As(err, &alert), errors.As(err, &header):
		hint = "the TLS handshake failed (a client certificate the server refuses, tls.cert_file/key_file, or no common TLS version)"
	case strings.Contains(err.Error(), "does not support TLS"):
		hint = "the server does not offer TLS: configure it (ssl_cert, ssl_key) or set tls.enabled to false"
	default:
		return fmt.Errorf("mysql source: %s: %w", what, err)
	}
	return sluice.Permanent(fmt.Errorf("mysql source: %s over TLS: %s: %w", what, hint, err))
}
