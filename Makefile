# Entry points: `make demo`, `make test`, `make bench`. Each bootstraps what is
# missing (Node >= 22, pnpm, the Pulumi engine) through scripts/bootstrap.sh.
SHELL := /bin/bash
RUN := ./scripts/run.sh

.PHONY: bootstrap bootstrap-k8s bootstrap-postgres bootstrap-gitea build pack install-toolchain typecheck lint test test-replicas demo bench clean

bootstrap:
	@./scripts/bootstrap.sh

# The local Kubernetes cluster (etcd, kube-apiserver, controller-manager,
# scheduler, kwok) and upstream's Kubernetes provider plugin for the end-to-end
# tests, the demo and the benchmarks (a long first build; cached by version afterwards).
bootstrap-k8s: bootstrap
	@$(RUN) scripts/bootstrap-k8s.sh

# Gitea, the Git host of the pull-request and notification end-to-end tests
# (built from Go modules; cached by version afterwards).
bootstrap-gitea: bootstrap
	@$(RUN) scripts/bootstrap-gitea.sh

build: bootstrap
	@$(RUN) pnpm run -s build

# The npm tarballs of @driftless/core and @driftless/gitops, in dist/.
pack: build
	@rm -rf dist && mkdir -p dist
	@$(RUN) sh -c 'for p in core gitops; do (cd packages/$$p && pnpm pack --pack-destination ../../dist >/dev/null); done'
	@ls -1 dist/*.tgz

# Node and a complete Pulumi CLI for a service outside this clone: make install-toolchain PREFIX=/opt/driftless
install-toolchain: bootstrap
	@./scripts/install-toolchain.sh "$(PREFIX)"

typecheck: build
	@echo "== typecheck"
	@$(RUN) pnpm run -s typecheck

lint: bootstrap
	@echo "== lint (biome)"
	@$(RUN) pnpm run -s lint

# PostgreSQL server binaries for the tests' throwaway clusters (apt-get when missing).
bootstrap-postgres:
	@./scripts/bootstrap-postgres.sh

test: typecheck lint bootstrap-k8s bootstrap-postgres bootstrap-gitea
	@echo "== tests (vitest: unit, real engine, real git)"
	@date +%s >.toolchain/test-started
	@$(RUN) pnpm exec vitest run --coverage --reporter=default --reporter=json --outputFile.json=.toolchain/vitest-results.json
	@$(RUN) node --import tsx scripts/check-leftovers.ts "$$(cat .toolchain/test-started)"
	@$(RUN) node scripts/coverage-report.mjs

# The replicas end-to-end test at its full size: three replica processes
# sharing 60 targets on one PostgreSQL database (`make test` runs it with 3 to
# stay within its time on a 2-core machine).
test-replicas: build bootstrap-postgres
	@REPLICA_TARGETS=60 $(RUN) pnpm exec vitest run test/replicas.test.ts

# `make demo K8S=1` also reconciles examples/kubernetes-app onto the local cluster.
demo: build $(if $(K8S),bootstrap-k8s)
	@$(RUN) node scripts/demo.mjs $(if $(K8S),--kubernetes)

bench: build bootstrap-k8s bootstrap-postgres bootstrap-gitea
	@$(RUN) node --import tsx bench/run.ts

clean:
	rm -rf node_modules packages/*/dist packages/*/*.tsbuildinfo .toolchain coverage .demo
