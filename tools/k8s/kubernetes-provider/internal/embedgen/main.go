// Command embedgen writes schema-embed.json and terraform-mapping-embed.json
// into the current directory, derived from the schema.json and
// terraform-mapping.json in the provider module's cmd/pulumi-resource-kubernetes
// folder, as upstream's generate.go does: the schema is read into a
// schema.PackageSpec, stamped with the version and written compactly; the
// mapping is rewritten compactly.
//
// Usage (from the wrapper's folder): VERSION=4.25.0 go run ./internal/embedgen
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const providerModule = "github.com/pulumi/pulumi-kubernetes/provider/v4"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embedgen:", err)
		os.Exit(1)
	}
}

func run() error {
	version := os.Getenv("VERSION")
	if version == "" {
		return fmt.Errorf("VERSION is empty: set it to the provider version to stamp (e.g. VERSION=4.25.0)")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", providerModule).Output()
	if err != nil {
		return fmt.Errorf("locating %s in the module cache: %w", providerModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "cmd", "pulumi-resource-kubernetes")

	var spec schema.PackageSpec
	if err := readJSON(filepath.Join(dir, "schema.json"), &spec); err != nil {
		return err
	}
	spec.Version = version
	if err := writeJSON("schema-embed.json", spec); err != nil {
		return err
	}

	var mapping any
	if err := readJSON(filepath.Join(dir, "terraform-mapping.json"), &mapping); err != nil {
		return err
	}
	return writeJSON("terraform-mapping-embed.json", mapping)
}

func readJSON(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes compact JSON through a temporary file, so an interrupted
// run never leaves a truncated file for go:embed.
func writeJSON(path string, value any) error {
	data, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := path + ".partial"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
