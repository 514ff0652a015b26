package main

import "github.com/sluice-cdc/sluice"

// The optional reporters fullSource implements beyond deploy_test.go's,
// so that the dashboard's queries of their metrics are checked against
// what /metrics exports (TestDashboardUsesExportedMetrics).

func (fullSource) IncrementalSnapshotJobs() sluice.IncrementalSnapshotJobs {
	return sluice.IncrementalSnapshotJobs{Known: true}
}

func (fullSource) BinlogRetention() sluice.BinlogRetention {
	return sluice.BinlogRetention{Known: true, HeadFile: "mysql-bin.000002", NeededFile: "mysql-bin.000001", OldestFile: "mysql-bin.000001", NeededPresent: true}
}
