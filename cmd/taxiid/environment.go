package main

import (
	"slices"
	"strings"
)

// environment returns the names of the environment variables `taxiid
// serve` reads, sorted: TAXIID_<FLAG> for each flag, as parseFlags asks
// for them, and those read beside the flags. It is derived by running
// parseFlags with an environment that notes every name asked for, so that
// a new flag is in it without a list to keep up to date.
func environment() []string {
	seen := map[string]bool{adminPasswordEnv: true}
	parseFlags(nil, func(name string) string {
		if strings.HasPrefix(name, "TAXIID_") {
			seen[name] = true
		}
		return ""
	}, nil)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
