# onebox: the human interface. Every target runs `setup` first (fast when nothing changed).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

ENV ?= local
MOLECULE_DISTROS ?= debian12 debian13
export MOLECULE_DISTROS

.PHONY: help setup lock dev test test-quick test-deps test-app test-frontend test-project test-molecule lint \
        engine images host up down site deploy rollback failover releases init dump backup restore bench audit docs status ops-ui logs

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## Create .venv (pinned toolchain) and frontend/node_modules (npm ci)
	@scripts/setup.sh

lock: setup ## Recompile the lock files after editing a *.in file
	cd app && pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.lock requirements.in
	cd requirements && pip-compile -q --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o controller.txt controller.in
	cd roles/django/files/runtime && for lock in gunicorn postgresql-driver; do \
	  pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o $$lock.lock $$lock.in || exit 1; done

dev: setup ## Run Django (SQLite, seeded) and the Vite dev server; Ctrl-C stops both
	@scripts/dev.sh

lint: setup ## yamllint, ansible-lint (production profile), ruff, eslint
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	cd frontend && npm run --silent lint

test: ## Everything CI runs, then a table of where the time went (.cache/test-times/)
	@scripts/test.sh full

test-quick: ## The inner loop: lint, unit and project tests, one role scenario (QUICK_SCENARIO=common)
	@scripts/test.sh quick

test-deps: ## Install the Debian packages the tests drive (PostgreSQL, Chromium, debootstrap, wrk)
	@scripts/test-deps.sh

test-app: setup ## The Django app's tests, on SQLite and on a real PostgreSQL
	@scripts/test-app.sh

test-frontend: setup ## vitest, then a production build
	cd frontend && npm test && npm run --silent build

test-project: setup ## pytest for the project's own Python and the dev-server browser check
	pytest -q -n 2 --dist loadfile tests

test-molecule: setup engine images ## The molecule scenarios of molecule/matrix.yml (or: make test-molecule S="django stack:debian13")
	@.venv/bin/python scripts/molecule.py $(S)

engine: ## Make sure a Docker engine answers (installs and starts one on Debian as root)
	@scripts/docker-engine.sh

images: engine ## Build the systemd test-host images (only when their recipe changed)
	@for d in $(MOLECULE_DISTROS); do molecule/images/build.sh $$d; done

host: setup ## Start the local VPS (a systemd container reached over SSH as deploy)
	@scripts/local-host.sh up

down: ## Remove the local VPS and its key
	@scripts/local-host.sh down

init: setup ## New inventory: make init ENV=prod DOMAIN=shop.example.org EMAIL=ops@example.org [HOST=ip] [DB=ip] [REPLICA=ip] [TLS=false]
	ansible-playbook playbooks/init.yml -e env="$(ENV)" -e domain="$(DOMAIN)" -e email="$(EMAIL)" \
	  $(if $(HOST),-e host="$(HOST)") $(if $(DB),-e db="$(DB)") $(if $(REPLICA),-e replica="$(REPLICA)") $(if $(TLS),-e tls="$(TLS)") \
	  $(if $(APP),-e app="$(APP)")

up: setup ## The whole stack on the local VPS over SSH, HTTPS from Pebble; prints the URL
	@scripts/up.sh

ANSIBLE_ENV_ARGS = -i inventory/$(ENV) $(if $(wildcard inventory/$(ENV)/.vault_pass),--vault-password-file inventory/$(ENV)/.vault_pass)

site: setup ## The whole site.yml for an inventory (what a fresh server needs first): make site ENV=<inventory> [TAGS=nginx-site]
	ansible-playbook $(ANSIBLE_ENV_ARGS) site.yml $(if $(TAGS),--tags "$(TAGS)")

deploy: setup ## A new release of the app and frontend: make deploy ENV=<inventory>
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/deploy.yml

rollback: setup ## Back to the previous release: make rollback ENV=<inventory> [RELEASE=<id>]
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/rollback.yml $(if $(RELEASE),-e release=$(RELEASE)) \
	  $(if $(FRONTEND_RELEASE),-e frontend_release=$(FRONTEND_RELEASE))

failover: setup ## Promote a replica to primary, fencing the old one: make failover ENV=<inventory> [REPLICA=<host>] [UNFENCED=yes]
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/failover.yml $(if $(REPLICA),-e replica=$(REPLICA)) \
	  $(if $(UNFENCED),-e unfenced=$(UNFENCED))

releases: setup ## Which release pairs went live when, which failed and why: make releases ENV=<inventory>
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/releases.yml

backup: setup ## A backup now, then the freshness check: make backup ENV=<inventory> [TYPE=full|diff|incr]
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/backup.yml $(if $(TYPE),-e backup_type="$(TYPE)")

restore: setup ## Restore (stops the app): make restore ENV=<inventory> CONFIRM=<app> [TIME='2026-11-25 16:30:00+00']
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/restore.yml -e confirm_restore="$(CONFIRM)" \
	  $(if $(TIME),-e '{"target_time": "$(TIME)"}')

dump: setup ## pg_dump -Fc of the app's database to .local/dumps/: make dump ENV=<inventory> [DB=<database>]
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/dump.yml $(if $(DB),-e database="$(DB)")

status: setup ## One table per host: releases, units, certificate expiry, last backup, disk, firing alerts: make status ENV=<inventory>
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/status.yml

ops-ui: setup ## Prometheus and Alertmanager through an SSH tunnel (prints the local URLs): make ops-ui ENV=<inventory> [HOST=name]
	.venv/bin/python scripts/ops.py ui "$(ENV)" $(if $(HOST),--host "$(HOST)")

logs: setup ## Follow a unit's journal over SSH, the app's by default: make logs ENV=<inventory> [UNIT=nginx] [HOST=name]
	.venv/bin/python scripts/ops.py logs "$(ENV)" $(if $(UNIT),--unit "$(UNIT)") $(if $(HOST),--host "$(HOST)")

docs: setup ## Regenerate each role README's table of inputs (from argument_specs and defaults)
	.venv/bin/python scripts/role_docs.py

audit: setup ## Lynis's hardening index and warnings for each host: make audit ENV=<inventory>
	ansible-playbook $(ANSIBLE_ENV_ARGS) playbooks/audit.yml

bench: setup engine ## Speed figures with goals on two fresh local VPSs (about 10 min): see bench/README.md
	@.venv/bin/python bench/run.py
