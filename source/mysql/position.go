package mysql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

// position is a place in the binlog: where a restart resumes.
type position struct {
	file  string
	pos   uint32
	gtids mysql.GTIDSet // nil when the server has no GTIDs
}

// fileSeq is the sequence number of a binlog file (mysql-bin.000042 →
// 42). With the offset it orders positions across files.
func fileSeq(file string) uint64 {
	dot := strings.LastIndexByte(file, '.')
	n, _ := strconv.ParseUint(file[dot+1:], 10, 32)
	return n
}

// lsn numbers a position so that later positions have larger numbers.
func lsn(file string, pos uint32) uint64 { return fileSeq(file)<<32 | uint64(pos) }

// resume encodes a stream position as a mark's Resume token:
// "file\x00pos\x00gtids".
func (p position) resume() string { return string(p.appendResume(nil)) }

// appendResume appends the Resume token. A mark per transaction formats
// one: the common MariaDB set of one domain and server is written
// without go-mysql's sorting and Sprintf.
func (p position) appendResume(dst []byte) []byte {
	dst = append(dst, p.file...)
	dst = append(dst, 0)
	dst = strconv.AppendUint(dst, uint64(p.pos), 10)
	dst = append(dst, 0)
	switch g := p.gtids.(type) {
	case nil:
	case *mysql.MariadbGTIDSet:
		if one := soleMariaGTID(g); one != nil {
			return appendMariaGTID(dst, one)
		}
		dst = append(dst, g.String()...)
	default:
		dst = append(dst, g.String()...)
	}
	return dst
}

// soleMariaGTID is the set's only GTID, or nil when it has another number.
func soleMariaGTID(s *mysql.MariadbGTIDSet) *mysql.MariadbGTID {
	if len(s.Sets) != 1 {
		return nil
	}
	for _, servers := range s.Sets {
		if len(servers) != 1 {
			return nil
		}
		for _, g := range servers {
			return g
		}
	}
	return nil
}

// addMariaGTID makes g the position of its domain in s. A MariaDB
// position holds one GTID per domain, the last one applied, whichever
// server wrote it: @slave_connect_state refuses two of one domain
// (ER_DUPLICATE_GTID_DOMAIN), while go-mysql's AddSet keeps one per
// domain and server, so a domain whose transactions came from two
// servers (a switchover read through log_slave_updates, SET SESSION
// server_id) would leave a position no restart could use. AddSet keeps
// the pointer it is given when g's domain and server are new to s, so
// only then does g go in as a copy: the stream reuses g for every
// transaction, and a copy per commit was an allocation per transaction.
func addMariaGTID(s *mysql.MariadbGTIDSet, g *mysql.MariadbGTID) error {
	servers := s.Sets[g.DomainID]
	if _, ok := servers[g.ServerID]; ok && len(servers) == 1 {
		return s.AddSet(g) // moves the set's own GTID forward
	}
	delete(s.Sets, g.DomainID)
	c := *g
	return s.AddSet(&c)
}

// onePerDomain keeps, of each domain of a MariaDB set, the GTID with
// the highest sequence number (sequence numbers grow within a domain in
// the strict mode a dump is started in): the position of offsets saved
// with more than one GTID per domain (addMariaGTID) that MariaDB would
// refuse.
func onePerDomain(g mysql.GTIDSet) {
	s, ok := g.(*mysql.MariadbGTIDSet)
	if !ok {
		return
	}
	for domain, servers := range s.Sets {
		if len(servers) < 2 {
			continue
		}
		var last *mysql.MariadbGTID
		for _, gtid := range servers {
			if last == nil || gtid.SequenceNumber > last.SequenceNumber {
				last = gtid
			}
		}
		s.Sets[domain] = map[uint32]*mysql.MariadbGTID{last.ServerID: last}
	}
}

// appendMariaGTID appends domain-server-sequence, as MariadbGTID.String
// does (empty for the zero GTID).
func appendMariaGTID(dst []byte, g *mysql.MariadbGTID) []byte {
	if g.DomainID == 0 && g.ServerID == 0 && g.SequenceNumber == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(g.DomainID), 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, uint64(g.ServerID), 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, g.SequenceNumber, 10)
}

// gtidString is the text of a GTID set as an offset stores it; "" without
// GTIDs.
func gtidString(g mysql.GTIDSet) string {
	if g == nil {
		return ""
	}
	return g.String()
}

// offsetPosition is where a stored offset resumes.
func offsetPosition(srv *server, o *offset) (position, error) {
	p := position{file: o.File, pos: o.Pos}
	if srv.gtid {
		g, err := mysql.ParseGTIDSet(srv.flavor, o.GTIDs)
		if err != nil {
			return p, sluice.Permanent(fmt.Errorf("mysql source: stored GTID set %q: %w", o.GTIDs, err))
		}
		onePerDomain(g)
		p.gtids = g
	}
	return p, nil
}

// currentPosition is the server's binlog end, where a start without
// snapshot and offset begins.
func currentPosition(c *client.Conn, srv *server) (position, error) {
	file, pos, err := binlogHead(c, srv)
	if err != nil {
		return position{}, err
	}
	p := position{file: file, pos: uint32(pos)}
	if srv.gtid {
		q := "SELECT @@GLOBAL.gtid_executed"
		if srv.flavor == mysql.MariaDBFlavor {
			q = "SELECT @@GLOBAL.gtid_binlog_pos"
		}
		g, err := queryString(c, q)
		if err != nil {
			return p, err
		}
		if p.gtids, err = mysql.ParseGTIDSet(srv.flavor, g); err != nil {
			return p, fmt.Errorf("mysql source: GTID set %q: %w", g, err)
		}
	}
	return p, nil
}

// positionAvailable reports whether the server still has the binlog file.
func positionAvailable(c *client.Conn, file string) (bool, error) {
	files, err := binaryLogs(c)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(files, func(f binlogFile) bool { return f.name == file }), nil
}
