// Command pulumi-resource-kubernetes is a stand-in for the Pulumi Kubernetes
// provider, written against Pulumi's public ResourceProvider gRPC contract.
//
// Why it exists: upstream's provider module
// (github.com/pulumi/pulumi-kubernetes/provider/v4) is not served by the Go
// module proxy we can reach (every version, tag or pseudo-version, answers
// "403 This module version is not available"), so the bootstrap cannot build
// it from modules. This plugin answers to the same package name and version
// as the `@pulumi/kubernetes` npm package, so programs written against that
// SDK run unchanged on the engine.
//
// What it does, deliberately small: every typed Kubernetes resource
// (`kubernetes:<group>/<version>:<Kind>`) is applied with server-side apply
// (field manager `pulumi-kubernetes`, conflicts forced, as upstream does), read
// back for refresh (the live object projected onto the shape of the inputs, so
// an out-of-band edit of a declared field shows up as a diff), and deleted with
// background propagation. It never waits for readiness — as if every object
// carried `pulumi.com/skipAwait: "true"` — and offers no Helm, YAML or
// kustomize resources and no invokes.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// version is the `@pulumi/kubernetes` version this plugin answers to; the
// bootstrap sets it with -ldflags "-X main.version=...".
var version = "4.34.2"

const fieldManager = "pulumi-kubernetes"

func main() {
	err := provider.Main("kubernetes", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &kubeProvider{}, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type kubeProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	mu      sync.Mutex
	client  dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	initErr error
}

var (
	unmarshalInputs  = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}
	marshalOutputs   = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}
	errNotConfigured = errors.New("the kubernetes provider has no kubeconfig: set the provider's `kubeconfig`")
)

func (p *kubeProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *kubeProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *kubeProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig never asks for a new provider: pointing it at another cluster is
// an update of the provider, as with upstream's default settings.
func (p *kubeProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news := req.GetOldInputs().AsMap(), req.GetNews().AsMap()
	changes := pulumirpc.DiffResponse_DIFF_NONE
	var diffs []string
	for _, key := range []string{"kubeconfig", "context", "cluster", "namespace"} {
		if fmt.Sprint(olds[key]) != fmt.Sprint(news[key]) {
			changes = pulumirpc.DiffResponse_DIFF_SOME
			diffs = append(diffs, key)
		}
	}
	return &pulumirpc.DiffResponse{Changes: changes, Diffs: diffs}, nil
}

func (p *kubeProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	kubeconfig, _ := req.GetArgs().AsMap()["kubeconfig"].(string)
	if kubeconfig == "" {
		kubeconfig = req.GetVariables()["kubernetes:config:kubeconfig"]
	}
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if kubeconfig == "" || kubeconfig == plugin.UnknownStringValue {
		// Unknown during a preview that computes it; resources then preview only.
		p.initErr = errNotConfigured
	} else {
		p.initErr = p.connect(kubeconfig)
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

// connect accepts the kubeconfig's contents or a path to it, as upstream does.
func (p *kubeProvider) connect(kubeconfig string) error {
	data := []byte(kubeconfig)
	if !strings.Contains(kubeconfig, "\n") {
		read, err := os.ReadFile(kubeconfig)
		if err != nil {
			return fmt.Errorf("reading kubeconfig %q: %w", kubeconfig, err)
		}
		data = read
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return fmt.Errorf("parsing kubeconfig: %w", err)
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	p.client = client
	p.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	return nil
}

// Check fills in a name when the program gave none: the resource's name plus
// a random suffix, kept stable across updates (upstream's auto-naming).
func (p *kubeProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := plugin.UnmarshalProperties(req.GetNews(), unmarshalInputs)
	if err != nil {
		return nil, err
	}
	metadata := resource.PropertyMap{}
	if m, ok := news["metadata"]; ok && m.IsObject() {
		metadata = m.ObjectValue()
	}
	if _, ok := metadata["name"]; !ok {
		name := ""
		if olds, err := plugin.UnmarshalProperties(req.GetOlds(), unmarshalInputs); err == nil {
			if old, ok := olds["metadata"]; ok && old.IsObject() {
				if n, ok := old.ObjectValue()["name"]; ok && n.IsString() {
					name = n.StringValue()
				}
			}
		}
		if name == "" {
			name, err = resource.NewUniqueName(req.GetRandomSeed(), req.GetName()+"-", 8, 253, nil)
			if err != nil {
				return nil, err
			}
		}
		metadata["name"] = resource.NewStringProperty(name)
		news["metadata"] = resource.NewObjectProperty(metadata)
	}
	inputs, err := plugin.MarshalProperties(news, marshalOutputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

// Diff compares the inputs last applied (or, after a refresh, the live object
// projected onto them) with the new ones.
func (p *kubeProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldStruct := req.GetOldInputs()
	if oldStruct == nil {
		oldStruct = req.GetOlds()
	}
	olds, err := plugin.UnmarshalProperties(oldStruct, unmarshalInputs)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), unmarshalInputs)
	if err != nil {
		return nil, err
	}
	diff := olds.Diff(news)
	if diff == nil || !diff.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var diffs []string
	for _, key := range diff.ChangedKeys() {
		diffs = append(diffs, string(key))
	}
	return &pulumirpc.DiffResponse{
		Changes:  pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:    diffs,
		Replaces: replaceKeys(req.GetType(), olds, news),
	}, nil
}

// replaceKeys names the changed fields the API server would refuse to update
// in place: identity, the selector of workloads, and the content of an
// immutable ConfigMap or Secret.
func replaceKeys(token string, olds, news resource.PropertyMap) []string {
	changed := func(path ...string) bool {
		o, n := lookup(olds, path...), lookup(news, path...)
		if o == nil || n == nil {
			return o != n
		}
		return !o.DeepEquals(*n)
	}
	var keys []string
	for _, path := range [][]string{{"metadata", "name"}, {"metadata", "namespace"}, {"kind"}} {
		if changed(path...) {
			keys = append(keys, strings.Join(path, "."))
		}
	}
	switch groupVersionKind(token, news).Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		if changed("spec", "selector") {
			keys = append(keys, "spec.selector")
		}
	case "ConfigMap", "Secret":
		if immutable := lookup(olds, "immutable"); immutable != nil && immutable.IsBool() && immutable.BoolValue() {
			for _, field := range []string{"data", "stringData", "binaryData"} {
				if changed(field) {
					keys = append(keys, field)
				}
			}
		}
	}
	return keys
}

func lookup(props resource.PropertyMap, path ...string) *resource.PropertyValue {
	current := resource.NewObjectProperty(props)
	for _, key := range path {
		for current.IsSecret() {
			current = current.SecretValue().Element
		}
		if !current.IsObject() {
			return nil
		}
		next, ok := current.ObjectValue()[resource.PropertyKey(key)]
		if !ok {
			return nil
		}
		current = next
	}
	return &current
}

func (p *kubeProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: req.GetProperties()}, nil
	}
	live, err := p.apply(ctx, req.GetType(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	props, err := p.outputs(live)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: objectID(live), Properties: props}, nil
}

func (p *kubeProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
	}
	live, err := p.apply(ctx, req.GetType(), req.GetNews())
	if err != nil {
		return nil, err
	}
	props, err := p.outputs(live)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Read is refresh: the live object becomes the outputs, and the inputs are the
// old inputs with every declared field replaced by its live value, so the next
// diff sees what someone changed by hand.
func (p *kubeProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	inputs, err := plugin.UnmarshalProperties(req.GetInputs(), unmarshalInputs)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 {
		if inputs, err = plugin.UnmarshalProperties(req.GetProperties(), unmarshalInputs); err != nil {
			return nil, err
		}
	}
	gvk := groupVersionKind(req.GetType(), inputs)
	namespace, name := splitID(req.GetId())
	resourceClient, err := p.resourceFor(gvk, namespace)
	if err != nil {
		return nil, err
	}
	live, err := resourceClient.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &pulumirpc.ReadResponse{}, nil // gone: the engine drops it from the state
	}
	if err != nil {
		return nil, err
	}
	props, err := p.outputs(live)
	if err != nil {
		return nil, err
	}
	liveMap := live.Object
	if live.GetKind() == "Secret" {
		liveMap = withStringData(liveMap)
	}
	projected, _ := project(resource.NewObjectProperty(inputs), liveMap)
	newInputs, err := plugin.MarshalProperties(projected.ObjectValue(), marshalOutputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: newInputs}, nil
}

func (p *kubeProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	props, err := plugin.UnmarshalProperties(req.GetProperties(), unmarshalInputs)
	if err != nil {
		return nil, err
	}
	gvk := groupVersionKind(req.GetType(), props)
	namespace, name := splitID(req.GetId())
	resourceClient, err := p.resourceFor(gvk, namespace)
	if err != nil {
		return nil, err
	}
	// Background: dependents are left to the garbage collector instead of
	// holding the object behind a foreground-deletion finalizer.
	policy := metav1.DeletePropagationBackground
	err = resourceClient.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// apply sends the inputs as a server-side apply patch and returns the live object.
func (p *kubeProvider) apply(ctx context.Context, token string, inputs *structpb.Struct) (*unstructured.Unstructured, error) {
	props, err := plugin.UnmarshalProperties(inputs, plugin.MarshalOptions{SkipNulls: true, SkipInternalKeys: true})
	if err != nil {
		return nil, err
	}
	gvk := groupVersionKind(token, props)
	object := &unstructured.Unstructured{Object: props.Mappable()}
	object.SetAPIVersion(gvk.GroupVersion().String())
	object.SetKind(gvk.Kind)
	mapping, err := p.mapping(gvk)
	if err != nil {
		return nil, err
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	if namespaced && object.GetNamespace() == "" {
		object.SetNamespace("default")
	}
	resourceClient := p.clientFor(mapping, object.GetNamespace())
	body, err := object.MarshalJSON()
	if err != nil {
		return nil, err
	}
	force := true
	return resourceClient.Patch(ctx, object.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
}

func (p *kubeProvider) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.initErr != nil {
		return nil, p.initErr
	}
	if p.mapper == nil {
		return nil, errNotConfigured
	}
	mapping, err := p.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A CRD created earlier in this update: discovery is stale.
		p.mapper.Reset()
		mapping, err = p.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return mapping, err
}

func (p *kubeProvider) clientFor(mapping *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return p.client.Resource(mapping.Resource).Namespace(namespace)
	}
	return p.client.Resource(mapping.Resource)
}

func (p *kubeProvider) resourceFor(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	mapping, err := p.mapping(gvk)
	if err != nil {
		return nil, err
	}
	return p.clientFor(mapping, namespace), nil
}

// outputs is the live object without server bookkeeping; the data of a Secret stays secret.
func (p *kubeProvider) outputs(live *unstructured.Unstructured) (*structpb.Struct, error) {
	object := live.DeepCopy()
	unstructured.RemoveNestedField(object.Object, "metadata", "managedFields")
	props := resource.NewPropertyMapFromMap(object.Object)
	if object.GetKind() == "Secret" {
		for _, key := range []resource.PropertyKey{"data", "stringData"} {
			if v, ok := props[key]; ok {
				props[key] = resource.MakeSecret(v)
			}
		}
	}
	return plugin.MarshalProperties(props, marshalOutputs)
}

// project returns `old` with each value replaced by the live value at the same
// place. A field the server dropped disappears (a drift), unless it held a
// zero value: the API omits those (`omitempty`), so they were never changed.
func project(old resource.PropertyValue, live any) (resource.PropertyValue, bool) {
	switch {
	case old.IsSecret():
		inner, ok := project(old.SecretValue().Element, live)
		return resource.MakeSecret(inner), ok
	case old.IsObject():
		liveMap, ok := live.(map[string]any)
		if !ok {
			return resource.NewPropertyValue(live), true
		}
		result := resource.PropertyMap{}
		for key, value := range old.ObjectValue() {
			liveValue, present := liveMap[string(key)]
			if !present {
				if isZero(value) {
					result[key] = value
				}
				continue
			}
			if projected, keep := project(value, liveValue); keep {
				result[key] = projected
			}
		}
		return resource.NewObjectProperty(result), true
	case old.IsArray():
		liveArray, ok := live.([]any)
		if !ok || len(liveArray) != len(old.ArrayValue()) {
			return resource.NewPropertyValue(live), true
		}
		result := make([]resource.PropertyValue, len(liveArray))
		for i, value := range old.ArrayValue() {
			result[i], _ = project(value, liveArray[i])
		}
		return resource.NewArrayProperty(result), true
	default:
		return resource.NewPropertyValue(live), true
	}
}

func isZero(v resource.PropertyValue) bool {
	switch {
	case v.IsNull():
		return true
	case v.IsObject():
		return len(v.ObjectValue()) == 0
	case v.IsArray():
		return len(v.ArrayValue()) == 0
	case v.IsNumber():
		return v.NumberValue() == 0
	case v.IsBool():
		return !v.BoolValue()
	case v.IsString():
		return v.StringValue() == ""
	}
	return false
}

// withStringData adds the decoded `data` of a Secret as `stringData`, the
// field programs usually declare, so it can be compared with the inputs.
func withStringData(object map[string]any) map[string]any {
	data, ok := object["data"].(map[string]any)
	if !ok {
		return object
	}
	decoded := map[string]any{}
	for key, value := range data {
		if s, ok := value.(string); ok {
			if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
				decoded[key] = string(raw)
			}
		}
	}
	copied := map[string]any{}
	for key, value := range object {
		copied[key] = value
	}
	copied["stringData"] = decoded
	return copied
}

// groupVersionKind reads apiVersion and kind from the inputs, falling back to
// the type token (`kubernetes:apps/v1:Deployment`, `kubernetes:core/v1:Namespace`).
func groupVersionKind(token string, props resource.PropertyMap) schema.GroupVersionKind {
	var fromToken schema.GroupVersionKind
	if parts := strings.Split(token, ":"); len(parts) == 3 {
		groupVersion := strings.TrimPrefix(parts[1], "core/")
		if gv, err := schema.ParseGroupVersion(groupVersion); err == nil {
			fromToken = gv.WithKind(parts[2])
		}
	}
	gvk := fromToken
	if v := lookup(props, "apiVersion"); v != nil && v.IsString() {
		if gv, err := schema.ParseGroupVersion(v.StringValue()); err == nil {
			gvk = gv.WithKind(gvk.Kind)
		}
	}
	if v := lookup(props, "kind"); v != nil && v.IsString() {
		gvk.Kind = v.StringValue()
	}
	return gvk
}

// objectID is upstream's ID format: `namespace/name`, or `name` for cluster-scoped objects.
func objectID(object *unstructured.Unstructured) string {
	if ns := object.GetNamespace(); ns != "" {
		return ns + "/" + object.GetName()
	}
	return object.GetName()
}

func splitID(id string) (namespace, name string) {
	if i := strings.LastIndex(id, "/"); i >= 0 {
		return id[:i], id[i+1:]
	}
	return "", id
}
