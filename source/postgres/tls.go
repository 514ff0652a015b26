package postgres

import (
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// TLS follows libpq: the DSN's sslmode, sslrootcert, sslcert, sslkey and
// sslsni (or PGSSLMODE and friends) configure it, as every PostgreSQL
// client does. Two choices differ from libpq's defaults, because its
// default sslmode=prefer accepts a plaintext connection without a word:
//
//   - a DSN that names a CA (sslrootcert) but no sslmode gets verify-full:
//     a CA is given to be checked, host name included;
//   - a connection that ends up plaintext to a host that is not loopback
//     is logged as a warning once per source, naming the fix.

// withTLSDefaults returns dsn with sslmode=verify-full added when it names
// a CA and no sslmode.
func withTLSDefaults(dsn string) string {
	params := dsnParams(dsn)
	_, mode := params["sslmode"]
	_, ca := params["sslrootcert"]
	if !mode && os.Getenv("PGSSLMODE") != "" {
		mode = true
	}
	if !ca && os.Getenv("PGSSLROOTCERT") != "" {
		ca = true
	}
	if mode || !ca {
		return dsn
	}
	if isURL(dsn) {
		if strings.Contains(dsn, "?") {
			return dsn + "&sslmode=verify-full"
		}
		return dsn + "?sslmode=verify-full"
	}
	return dsn + " sslmode=verify-full"
}

func isURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// dsnParams returns the keys a DSN sets: the query of a URL, or the
// key=value pairs of a keyword string (values may be single-quoted).
func dsnParams(dsn string) map[string]string {
	out := map[string]string{}
	if isURL(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return out
		}
		for k, v := range u.Query() {
			out[k] = v[len(v)-1]
		}
		return out
	}
	s := strings.TrimSpace(dsn)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, "'") {
			end := 1
			for end < len(s) && s[end] != '\'' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			val, s = s[1:min(end, len(s))], s[min(end+1, len(s)):]
		} else if sp := strings.IndexAny(s, " \t"); sp >= 0 {
			val, s = s[:sp], s[sp:]
		} else {
			val, s = s, ""
		}
		out[key] = val
		s = strings.TrimLeft(s, " \t")
	}
	return out
}

// warnPlaintext logs, once, that conn is not encrypted although the server
// is reached over the network.
func (s *Source) warnPlaintext(conn *pgx.Conn) {
	host := conn.Config().Host
	if !plaintextOverNetwork(conn.PgConn().Conn(), host) {
		return
	}
	s.plainOnce.Do(func() {
		s.log.Warn("the connection to PostgreSQL is not encrypted: set sslmode=verify-full and sslrootcert in the DSN",
			zap.String("host", host))
	})
}

// plaintextOverNetwork reports whether nc, connected to host, is neither
// encrypted nor local (a unix socket or loopback).
func plaintextOverNetwork(nc net.Conn, host string) bool {
	if _, ok := nc.(*tls.Conn); ok {
		return false
	}
	return !strings.HasPrefix(host, "/") && !isLoopback(host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
