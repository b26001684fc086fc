# Developer entry points. The control plane is real (etcd + kube-apiserver + controllers built
# from source by scripts/cluster-tools.sh, fake nodes by kwok); see scripts/cluster.sh.
SHELL := /bin/bash

.PHONY: tools cluster-up cluster-down cluster-status cluster-workloads cluster-smoke e2e-kind

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

cluster-smoke: ## smoke-test the running control plane (rollouts, restarts, TLS, tokens, audit)
	tests/cluster/smoke.sh

e2e-kind: ## e2e suite on a kind cluster (machines with Docker + kind only)
	scripts/e2e-kind.sh
