// Command kube-apiserver is upstream's API server, built from the published
// module k8s.io/kubernetes (version pinned in go.mod; its staging modules are
// required at their published versions through replace directives, the usual
// way to depend on k8s.io/kubernetes). Same entry point as upstream's
// cmd/kube-apiserver.
package main

import (
	"os"
	_ "time/tzdata" // for CronJob time zones on machines without tzdata

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
