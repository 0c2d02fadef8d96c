package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version overrides the module version in `portway --version`, for
// release builds: go build -ldflags "-X main.version=v1.2.3".
var version string

// versionText is what `portway --version` and `portway version` print:
// the version (the -X override, else the module's), the VCS revision and
// time the binary was built from (with "+dirty" for uncommitted changes)
// and the Go version.
func versionText() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		v := version
		if v == "" {
			v = "unknown"
		}
		return "portway " + v + " (no build information)"
	}
	return formatVersion(version, info)
}

func formatVersion(override string, info *debug.BuildInfo) string {
	v := override
	if v == "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	var parts []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		parts = append(parts, "commit "+rev)
	}
	if at != "" {
		parts = append(parts, "built from "+at)
	}
	parts = append(parts, info.GoVersion)
	return fmt.Sprintf("portway %s (%s)", v, strings.Join(parts, ", "))
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print portway's version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionText())
			return err
		},
	}
}
