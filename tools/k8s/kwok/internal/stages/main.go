// Command stages prints the kwok Stage configuration the test cluster uses, as
// one multi-document YAML file for kwok's --config. kwok has no built-in
// stages; these are the ones kwokctl uses for a fast cluster, taken from the
// kwok module itself (so they always match the kwok version in go.mod):
//
//   - node-initialize and node-heartbeat-with-lease: a fake Node becomes Ready
//     and keeps its lease;
//   - pod-ready: a scheduled Pod becomes Running and Ready at once;
//   - pod-complete: a Job's Pod succeeds; pod-delete: a deleted Pod goes away.
//
// plus one stage of ours, pod-never-ready: a Pod whose container image
// contains NeverReadyMarker becomes Running but never Ready, the way an app
// failing its readiness probe looks; pod-ready leaves such Pods alone.
//
// Usage: go run ./internal/stages > stages.yaml
package main

import (
	"fmt"
	"os"
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
	"sigs.k8s.io/yaml"
)

// NeverReadyMarker in an image reference keeps the Pod unready.
const NeverReadyMarker = "never-ready"

// neverReadyQuery selects Pods with a container whose image contains the marker.
var neverReadyQuery = fmt.Sprintf(`.spec.containers.[] | select( .image | contains(%q) ) | .name`, NeverReadyMarker)

const neverReadyStatus = `{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: ContainersNotReady
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: ContainersNotReady
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
{{ with $podIPs }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "stages:", err)
		os.Exit(1)
	}
}

func run() error {
	docs := []string{nodefast.DefaultNodeInit, nodelease.DefaultNodeHeartbeatWithLease}

	// pod-ready, told to leave never-ready Pods to the stage below.
	var ready map[string]any
	if err := yaml.Unmarshal([]byte(podfast.DefaultPodReady), &ready); err != nil {
		return fmt.Errorf("pod-ready: %w", err)
	}
	spec, _ := ready["spec"].(map[string]any)
	selector, _ := spec["selector"].(map[string]any)
	expressions, ok := selector["matchExpressions"].([]any)
	if !ok {
		return fmt.Errorf("pod-ready: spec.selector.matchExpressions not found")
	}
	selector["matchExpressions"] = append(expressions,
		map[string]any{"key": neverReadyQuery, "operator": "DoesNotExist"})
	patched, err := yaml.Marshal(ready)
	if err != nil {
		return err
	}
	docs = append(docs, string(patched))

	neverReady := map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "Stage",
		"metadata":   map[string]any{"name": "pod-never-ready"},
		"spec": map[string]any{
			"resourceRef": map[string]any{"apiGroup": "v1", "kind": "Pod"},
			"selector": map[string]any{"matchExpressions": []any{
				map[string]any{"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
				map[string]any{"key": ".status.phase", "operator": "In", "values": []any{"Pending"}},
				map[string]any{"key": neverReadyQuery, "operator": "Exists"},
			}},
			"next": map[string]any{"statusTemplate": neverReadyStatus},
		},
	}
	out, err := yaml.Marshal(neverReady)
	if err != nil {
		return err
	}
	docs = append(docs, string(out), podfast.DefaultPodComplete, podfast.DefaultPodDelete)

	for i, doc := range docs {
		docs[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---"))
	}
	_, err = fmt.Println(strings.Join(docs, "\n---\n"))
	return err
}
