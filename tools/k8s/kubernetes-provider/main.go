// Command pulumi-resource-kubernetes is upstream's Pulumi Kubernetes provider,
// built from the published module github.com/pulumi/pulumi-kubernetes/provider/v4
// (version pinned in go.mod). Same entry point as upstream's
// cmd/pulumi-resource-kubernetes; the version is stamped at build time with
// -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version.
//
// The two embedded files are generated, never committed: `go generate` (run
// by scripts/bootstrap-k8s.sh) derives them from the schema.json and
// terraform-mapping.json that the provider module ships.
package main

//go:generate go run ./internal/embedgen

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
