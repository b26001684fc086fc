# Developer entry points. The control plane is real (etcd + kube-apiserver + controllers built
# from source by scripts/cluster-tools.sh, fake nodes by kwok); see scripts/cluster.sh.
SHELL := /bin/bash

.PHONY: demo test test-unit test-e2e test-browser screenshot deps build bench help \
	image node-up node-down tools cluster-up cluster-down cluster-status cluster-workloads cluster-smoke e2e-kind

BUN := node_modules/.bin/bun
# make demo: where the app listens (LISTEN_ADDRESS syntax). Loopback only by default: the demo has
# no authentication. Its host is used for the monitoring listener too (DEMO_MONITORING_PORT);
# DEMO_LISTEN=:8080 serves both on every interface.
DEMO_LISTEN ?= 127.0.0.1:8080
DEMO_MONITORING_PORT ?= 6060
DEMO_PORT = $(lastword $(subst :, ,$(DEMO_LISTEN)))
DEMO_HOST = $(patsubst %:$(DEMO_PORT),%,$(DEMO_LISTEN))

demo: deps tools cluster-up cluster-workloads ## the app against the local control plane with sample workloads
	@echo "demo: open http://$(or $(DEMO_HOST),localhost):$(DEMO_PORT)/  metrics: http://$(or $(DEMO_HOST),localhost):$(DEMO_MONITORING_PORT)/metrics  (Ctrl-C stops the app; make cluster-down stops the cluster)"
	KUBE_CONFIG_PATH=.cluster/kubeconfig CONFIG_FILE_PATH=deploy/examples/config.yaml LISTEN_ADDRESS=$(DEMO_LISTEN) \
		LISTEN_MONITORING_ADDRESS=$(DEMO_HOST):$(DEMO_MONITORING_PORT) LOCK_NAMESPACE=default $(BUN) run src/main.ts

test: ## every suite (unit, e2e incl. the image on a real node, browser) against the local control plane; ends with "N passed, N failed"
	scripts/deps.sh --browser --image --node
	scripts/test.sh

test-unit: deps ## unit tests only
	SUITES=unit scripts/test.sh

test-e2e: ## e2e tests only (starts the control plane if needed)
	scripts/deps.sh --image --node
	SUITES=e2e scripts/test.sh

test-browser: ## browser tests in Chromium only
	scripts/deps.sh --browser
	SUITES=browser scripts/test.sh

screenshot: ## regenerate docs/ui.png, ui-oncall.png, ui-service-dark.png from the browser suite (no other target writes them)
	scripts/deps.sh --browser
	SCREENSHOT=docs/ui.png SUITES=browser scripts/test.sh

deps: ## npm packages (Bun included) and Debian packages the tests need
	scripts/deps.sh

build: deps ## compile dist/k8s-restart-app (one binary; templates and static assets embedded)
	scripts/build.sh

image: ## build the Dockerfile with podman into localhost/k8s-restart-app:<version> (local base images, no registry)
	scripts/image.sh

bench: deps build ## benchmarks against the local control plane (prints tables, writes bench/results/)
	$(BUN) bench/run.ts

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

tools: ## build (once) and cache the control-plane binaries
	scripts/cluster-tools.sh

cluster-up: ## start the local control plane; writes .cluster/env and .cluster/kubeconfig
	scripts/cluster.sh up

cluster-down: ## stop and delete the local control plane
	scripts/cluster.sh down

cluster-status: ## print .cluster/env and the nodes, fail if the cluster is not healthy
	scripts/cluster.sh status

cluster-workloads: ## apply deploy/examples/workloads.yaml and wait for every rollout
	scripts/cluster.sh workloads

node-up: deps cluster-up ## add one real node (kubelet + containerd) to the local control plane; see scripts/node.sh
	scripts/node.sh up
	@echo "node-up: run the image on it: scripts/node.sh import \$$(scripts/image.sh tag) (after make image)"

node-down: ## stop the real node; leaves no process, mount or bridge behind
	scripts/node.sh down

cluster-smoke: ## smoke-test the running control plane (rollouts, restarts, TLS, tokens, audit)
	tests/cluster/smoke.sh

e2e-kind: ## e2e suite on a kind cluster (machines with Docker + kind only)
	scripts/e2e-kind.sh
