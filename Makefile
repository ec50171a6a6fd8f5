# The venv is rebuilt whenever a requirements file changes.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
STRIPE_PORT ?= 8420

.PHONY: venv run test token migrate relay redrive recount import-products clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# chalice local on the embedded SQLite default: events are delivered in-process
# and emails land as .eml files in .data/mail. An empty local catalog gets the
# demo products (tools/demo_products.csv) first; no deployment ever does. Beside
# it, localstripe (a local Stripe stand-in) on STRIPE_PORT, with the service's
# webhook registered, so card payments and refunds work with no Stripe account
# (tools/run_local.py).
run: venv
	ENVIRONMENT=local $(BIN)/python -m chalicelib.cli demo-catalog
	$(BIN)/python -m tools.run_local --port $(PORT) --stripe-port $(STRIPE_PORT)

test: venv
	$(BIN)/python -m pytest

# A token of the local development issuer (its keys under .data/dev-issuer,
# made on first use), which `make run` accepts:
#   make -s token USER_ID=1 [EMAIL=ada@example.com]   a customer
#   make -s token ROLE=staff | ROLE=service
token: venv
	@$(BIN)/python -m chalicelib.identity.dev_issuer --user-id "$(USER_ID)" --role "$(ROLE)" --email "$(EMAIL)"

# Operator commands on the configured database and AWS (chalicelib/cli.py).
# recount rebuilds the order counts behind list totals: after loading orders
# behind the service's back, while nothing else writes orders.
migrate relay redrive recount: venv
	$(BIN)/python -m chalicelib.cli $@

# Load or update the catalog from a CSV (header product_id,sku,name,unit_price,
# currency,active,on_hand; on_hand empty: not tracked): all rows or none, every
# bad row reported by line.  make import-products FILE=products.csv
import-products: venv
	$(BIN)/python -m chalicelib.cli import-products "$(FILE)"

clean:
	rm -rf $(VENV) .data .pytest_cache

# CloudFormation for a stage, SNS/SQS/DLQ wiring included (docs/deploy.md):
# build/<stage>/sam.yaml and deployment.zip, checked with cfn-lint.
# `chalice package` needs a region, though the template names none.
STAGE ?= dev
PACKAGE_REGION ?= $(or $(AWS_DEFAULT_REGION),$(AWS_REGION),us-east-1)

.PHONY: package

package: venv
	rm -rf build/$(STAGE)
	AWS_DEFAULT_REGION=$(PACKAGE_REGION) $(BIN)/chalice package --stage $(STAGE) \
		--merge-template infra/resources.yaml build/$(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/sam.yaml

# Benchmark (bench/run.py): each operation in process, as Lambda calls it, beside
# the service's own statements on the bare driver; cold start; memory over 10,000
# requests; on SQLite and MariaDB (database orders_bench). The report is printed;
# options go in BENCH_ARGS, e.g.
#   make bench BENCH_ARGS="--backend mariadb --orders 1000000 --out bench/results/mariadb-1m.md"
BENCH_ARGS ?=

.PHONY: bench

bench: venv
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The OpenAPI document (tools/openapi.py): from app.routes and the marshmallow
# schemas, into chalicelib/api/openapi.json (served by GET /openapi.json) and
# its copy docs/openapi.json. tests/unit/test_openapi_document.py fails when
# either is stale.
.PHONY: openapi

openapi: venv
	$(BIN)/python -m tools.openapi

# Swagger UI for GET /docs, vendored from npm's swagger-ui-dist (the Swagger UI
# project's own build; npm checks the tarball's integrity): the bundle, the
# stylesheet and their licences only. Run with a new SWAGGER_UI_VERSION to upgrade.
SWAGGER_UI_VERSION ?= 5.35.0
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt

.PHONY: swagger-ui

swagger-ui:
	rm -rf build/swagger-ui && mkdir -p build/swagger-ui
	cd build/swagger-ui && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null \
		&& tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz
	for file in $(SWAGGER_UI_FILES); do cp build/swagger-ui/package/$$file chalicelib/api/swagger-ui/; done
	echo $(SWAGGER_UI_VERSION) > chalicelib/api/swagger-ui/VERSION
