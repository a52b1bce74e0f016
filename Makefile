# Entry points: `make demo`, `make test`, `make bench`. Each bootstraps what is
# missing (Node >= 22, pnpm, the Pulumi engine) through scripts/bootstrap.sh.
SHELL := /bin/bash
RUN := ./scripts/run.sh

.PHONY: bootstrap build typecheck lint test unit demo bench clean

bootstrap:
	@./scripts/bootstrap.sh

build: bootstrap
	@$(RUN) pnpm run -s build

typecheck: build
	@echo "== typecheck"
	@$(RUN) pnpm run -s typecheck

lint: bootstrap
	@echo "== lint (biome)"
	@$(RUN) pnpm run -s lint

test: typecheck lint
	@echo "== tests (vitest: unit, real engine, real git)"
	@$(RUN) pnpm exec vitest run --coverage
	@$(RUN) node scripts/coverage-report.mjs

demo: build
	@$(RUN) node scripts/demo.mjs

bench: build
	@$(RUN) node --import tsx bench/run.ts

clean:
	rm -rf node_modules packages/*/dist packages/*/*.tsbuildinfo .toolchain coverage
