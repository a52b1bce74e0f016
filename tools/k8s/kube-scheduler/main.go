// Command kube-scheduler is upstream's scheduler, built from the published
// module k8s.io/kubernetes (version pinned in go.mod, staging modules replaced
// by their published versions as for kube-apiserver). Same entry point as
// upstream's cmd/kube-scheduler.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
