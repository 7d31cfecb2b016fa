# This repository's own use of kubepki.mk: run the freshly built CLI.
#   make            build dist/ (npm run build) when src/ changed
#   make pki        generate ./pki from the embedded default spec (or SPEC=file)
#   make pki-verify / pki-plan / pki-renew / pki-clean [CONFIRM=yes]
#   make test       npm test

KUBEPKI      = dist/cli.js
KUBEPKI_DEPS = dist/cli.js

.PHONY: build test

build: dist/cli.js

include kubepki.mk

dist/cli.js: package.json package-lock.json tsconfig.json tsconfig.build.json scripts/build.mjs $(shell find src -name '*.ts' 2>/dev/null)
	npm run build
	@touch $@

test:
	npm test
