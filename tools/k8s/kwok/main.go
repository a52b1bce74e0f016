// Command kwok is upstream's kwok ("Kubernetes WithOut Kubelet"), built from
// the published module sigs.k8s.io/kwok (version pinned in go.mod; kwok sets
// its own version in its source). It plays the kubelet of fake Nodes: it keeps
// their leases and status fresh and moves their Pods through the stages given
// with --config (scripts/bootstrap-k8s.sh writes them with ./internal/stages).
// No container ever runs. Same entry point as upstream's cmd/kwok.
package main

import (
	"os"

	"github.com/spf13/pflag"
	"sigs.k8s.io/kwok/pkg/config"
	"sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

func main() {
	// The global flags (logging, --config) are parsed before the command's own.
	flags := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flags.ParseErrorsAllowlist.UnknownFlags = true
	flags.Usage = func() {}

	ctx, logger := log.InitFlags(signals.SetupSignalContext(), flags)
	ctx, err := config.InitFlags(ctx, flags)
	if err != nil {
		_, _ = os.Stderr.WriteString(flags.FlagUsages())
		logger.Error("Init config flags", "err", err)
		os.Exit(1)
	}
	command := cmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flags)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		os.Exit(1)
	}
}
