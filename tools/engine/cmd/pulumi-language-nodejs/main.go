// Command pulumi-language-nodejs is Driftless's Node.js language host for the
// Pulumi engine.
//
// The engine starts a language host to run a project's program. Pulumi's own
// Node host lives in a Go module that the module proxy reachable from our build
// machines does not serve, so we provide a small host of our own written against
// the public LanguageRuntime gRPC contract in github.com/pulumi/pulumi/sdk/v3.
// It runs programs the same way Pulumi's host does: it starts `node` (from PATH)
// with the `@pulumi/pulumi/cmd/run` entry point that the program's own SDK
// installation ships, passes the engine addresses as flags and the stack
// configuration through the environment variables that SDK reads.
//
// The engine passes its own gRPC address as the last argument; the host answers
// by printing the port it listens on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitCodeAfterReportedError is the exit code the SDK's run script uses when the
// program failed and the error was already reported to the engine, so the
// engine should not print a second, generic message.
const exitCodeAfterReportedError = 32

func main() {
	// The engine may pass logging and tracing flags before the address; we accept
	// them so the host starts under any engine invocation, but do not use them.
	// A flag set of our own: the SDK's packages register glog's flags globally.
	flags := flag.NewFlagSet("pulumi-language-nodejs", flag.ContinueOnError)
	flags.Bool("logtostderr", false, "log to stderr (accepted for compatibility)")
	flags.Int("v", 0, "log verbosity (accepted for compatibility)")
	flags.String("tracing", "", "tracing endpoint (accepted for compatibility)")
	flags.String("root", "", "project root (accepted for compatibility)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}

	engineAddress := ""
	if args := flags.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}

	// Stop when the engine is gone (killed or cancelled without shutting its
	// plugins down), as Pulumi's own hosts do; otherwise the host would outlive it.
	// Two watches: the engine started us, so it is gone the moment we are
	// re-parented (noticed within a second, whatever killed it); the health
	// check also covers an engine that is alive but no longer answers.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	go watchParent(ctx, cancel)
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Second, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not watch the engine: %v\n", err)
			os.Exit(1)
		}
	}

	host := &nodeHost{engineAddress: engineAddress}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: server stopped: %v\n", err)
		os.Exit(1)
	}
}

// watchParent cancels once the process that started the host has exited: the
// kernel then re-parents the host, so its parent pid changes.
func watchParent(ctx context.Context, cancel context.CancelFunc) {
	parent := os.Getppid()
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if os.Getppid() != parent {
				cancel()
				return
			}
		}
	}
}

type nodeHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func (h *nodeHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *nodeHost) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages reports no packages: plugins are resolved when the program
// registers its first resource of a package. Driftless runs the engine offline
// with plugins installed ahead of time, so there is nothing to pre-download.
func (h *nodeHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *nodeHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *nodeHost) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *nodeHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("`node` was not found on PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running `%s --version`: %w", node, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}

// InstallDependencies installs the program's dependencies with the package
// manager its lockfile belongs to, streaming the installer's output.
func (h *nodeHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	name, args := installCommand(dir)
	cmd := exec.CommandContext(stream.Context(), name, args...)
	cmd.Dir = dir
	cmd.Stdout = streamWriter(func(b []byte) error {
		return stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	})
	cmd.Stderr = streamWriter(func(b []byte) error {
		return stream.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	})
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("`%s %s` in %s failed: %w", name, strings.Join(args, " "), dir, err)
	}
	return nil
}

func installCommand(dir string) (string, []string) {
	switch {
	case exists(filepath.Join(dir, "pnpm-lock.yaml")):
		return "pnpm", []string{"install", "--frozen-lockfile"}
	case exists(filepath.Join(dir, "yarn.lock")):
		return "yarn", []string{"install", "--frozen-lockfile"}
	case exists(filepath.Join(dir, "package-lock.json")):
		return "npm", []string{"ci"}
	default:
		return "npm", []string{"install"}
	}
}

type streamWriter func([]byte) error

func (w streamWriter) Write(p []byte) (int, error) {
	// The stream keeps the slice, and the caller may reuse it after we return.
	if err := w(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Run executes the program with the SDK's run script and maps its exit code to
// the engine's result: success, "bail" (error already reported), or an error.
func (h *nodeHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram()
	}
	if entry == "" {
		entry = "."
	}

	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find `node` on PATH; install Node.js 22 or newer"}, nil
	}
	runScript, err := resolveRunScript(ctx, node, programDir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	options := info.GetOptions().AsMap()
	args := nodeArgs(options)
	args = append(args, runScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--organization", req.GetOrganization(),
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--root-directory", info.GetRootDirectory(),
	)
	if req.GetParallel() > 0 {
		args = append(args, "--parallel", strconv.Itoa(int(req.GetParallel())))
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env, err := programEnv(req, options)
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(node, args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// The program dies with the host, however the host ends (SIGKILL included).
	// The kernel sends the parent-death signal when the *thread* that started
	// the child exits, so this goroutine keeps its thread until the child is gone.
	dieWithParent(cmd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("starting %s: %v", node, err)}, nil
	}

	// A cancelled Run (the engine was cancelled) stops the program politely
	// first, so it can flush what it already registered, then for good.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)

	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitCodeAfterReportedError:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
}

// resolveRunScript finds the run script of the @pulumi/pulumi that the program
// itself depends on, so the program and the runner share one SDK instance.
func resolveRunScript(ctx context.Context, node, programDir string) (string, error) {
	cmd := exec.CommandContext(ctx, node, "-e",
		"process.stdout.write(require.resolve('@pulumi/pulumi/cmd/run'))")
	cmd.Dir = programDir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf(
			"the program in %s does not have @pulumi/pulumi installed (install its dependencies first): %s",
			programDir, firstLine(stderr.String()))
	}
	return string(out), nil
}

// nodeArgs reads the `runtime.options` of Pulumi.yaml that affect how node starts.
func nodeArgs(options map[string]any) []string {
	raw, ok := options["nodeargs"].(string)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	return strings.Fields(raw)
}

func programEnv(req *pulumirpc.RunRequest, options map[string]any) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("encoding stack config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("encoding secret config keys: %w", err)
	}

	typescript := true
	if v, ok := options["typescript"].(bool); ok {
		typescript = v
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript),
	)
	if tsconfig, ok := options["tsconfig"].(string); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}
	return env, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	if s == "" {
		return "no output"
	}
	return s
}
