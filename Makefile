# The venv is rebuilt whenever a requirements file changes.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: venv run test migrate relay redrive clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# chalice local on the embedded SQLite default: events are delivered in-process
# and emails land as .eml files in .data/mail.
run: venv
	$(BIN)/chalice local --stage local --port $(PORT) --no-autoreload

test: venv
	$(BIN)/python -m pytest

migrate: venv
	$(BIN)/python -m chalicelib.migrate

redrive: venv
	$(BIN)/python -m chalicelib.redrive

relay: venv
	$(BIN)/python -m chalicelib.relay_cli

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
