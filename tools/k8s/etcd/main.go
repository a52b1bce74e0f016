// Command etcd is upstream etcd's server, built from the published module
// go.etcd.io/etcd/server/v3 (version pinned in go.mod) so the bootstrap needs
// nothing but the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
