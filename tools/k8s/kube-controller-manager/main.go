// Command kube-controller-manager is upstream's controller manager, built from
// the published module k8s.io/kubernetes (version pinned in go.mod, staging
// modules replaced by their published versions as for kube-apiserver). Same
// entry point as upstream's cmd/kube-controller-manager.
package main

import (
	"os"
	_ "time/tzdata" // for CronJob time zones on machines without tzdata

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
