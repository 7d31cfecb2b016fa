# kubepki.mk — make targets for a cluster PKI, to `include` from an
# infrastructure repository's Makefile.
#
#   SPEC    = cluster.yaml        # empty: kubepki's embedded default spec
#   OUT     = pki                 # the PKI folder (kubepki's output layout)
#   KUBEPKI = kubepki             # or: npx kubepki
#                                 # or: docker run --rm --user $$(id -u):$$(id -g) \
#                                 #       -v $(CURDIR):$(CURDIR) -w $(CURDIR) kubepki
#   include kubepki.mk
#
# Set the variables before the `include` line (or on make's command line):
# they name prerequisites, which make reads when it reads the rule.
#
# Targets:
#   pki          generate (or complete) the PKI; a no-op while $(OUT)/manifest.json
#                is newer than $(SPEC) and the CA and server files exist
#   pki-plan     print the openssl script `pki` would run
#   pki-verify   check $(OUT) against the spec (read-only; fails on any problem)
#   pki-renew    re-sign every leaf certificate with the existing CA
#   pki-clean    delete the leaf files, keep the CA; CONFIRM=yes deletes the CA too
#
# Extra knobs: KUBEPKI_FLAGS (added to every kubepki call, e.g. --openssl PATH),
# KUBEPKI_RENEW_FLAGS (e.g. --rekey), KUBEPKI_DEPS (more prerequisites of the
# PKI, e.g. the file that builds kubepki itself).

_kubepki_saved_default_goal := $(.DEFAULT_GOAL)

SPEC                ?=
OUT                 ?= pki
KUBEPKI             ?= kubepki
KUBEPKI_FLAGS       ?=
KUBEPKI_RENEW_FLAGS ?=
KUBEPKI_DEPS        ?=
CONFIRM             ?=

_kubepki_spec := $(strip $(SPEC))
_kubepki_out  := $(patsubst %/,%,$(strip $(OUT)))
_kubepki_args  = $(if $(_kubepki_spec),--spec $(_kubepki_spec)) --out $(_kubepki_out) $(KUBEPKI_FLAGS)

ifeq ($(_kubepki_out),)
$(error kubepki.mk: OUT is empty; set it to the PKI folder, e.g. OUT = pki)
endif

# The files that prove a PKI was generated. If one is missing, `make pki`
# runs kubepki (which completes the PKI) even though manifest.json is fresh.
_kubepki_core    := $(addprefix $(_kubepki_out)/,ca.key ca.crt server.key server.crt manifest.json)
_kubepki_missing := $(filter-out $(wildcard $(_kubepki_core)),$(_kubepki_core))

.PHONY: pki pki-plan pki-verify pki-renew pki-clean _kubepki_force

pki: $(_kubepki_out)/manifest.json

# generate is idempotent: on a complete PKI it runs no openssl and changes no
# file. The touch records, for make, that the PKI now matches $(SPEC).
$(_kubepki_out)/manifest.json: $(_kubepki_spec) $(KUBEPKI_DEPS) $(if $(_kubepki_missing),_kubepki_force)
	$(KUBEPKI) generate $(_kubepki_args)
	@touch $@

_kubepki_force:

pki-plan:
	$(KUBEPKI) plan $(_kubepki_args)

pki-verify:
	$(KUBEPKI) verify $(_kubepki_args)

pki-renew:
	$(KUBEPKI) renew --all $(_kubepki_args) $(KUBEPKI_RENEW_FLAGS)

# Leaves are reproducible from the CA; the CA is not: every node, kubeconfig
# and kubelet that trusts it would have to be re-issued. Hence CONFIRM=yes.
_kubepki_leaves := master_ssl.cnf server.key server.csr server.crt manifest.json
_kubepki_ca     := ca.key ca.crt ca.srl
_kubepki_dirs   := clients kubeconfig flags .kubepki

pki-clean:
	cd $(_kubepki_out) 2>/dev/null || exit 0; \
	  rm -f $(_kubepki_leaves) && rm -rf $(_kubepki_dirs)
ifeq ($(CONFIRM),yes)
	cd $(_kubepki_out) 2>/dev/null || exit 0; rm -f $(_kubepki_ca)
	@rmdir $(_kubepki_out) 2>/dev/null \
	  && echo "kubepki: deleted $(_kubepki_out), CA included." \
	  || { [ ! -d $(_kubepki_out) ] || echo "kubepki: deleted the PKI, CA included; kept $(_kubepki_out)/: it holds files kubepki did not make."; }
else
	@if [ -e $(_kubepki_out)/ca.key ] || [ -e $(_kubepki_out)/ca.crt ]; then \
	  echo "kubepki: kept the CA ($(_kubepki_out)/ca.key, ca.crt, ca.srl): everything that trusts it would need new certificates."; \
	  echo "kubepki: to delete the CA as well, run: $(MAKE) pki-clean CONFIRM=yes"; \
	fi
endif

# Including this file does not change the including Makefile's default goal.
.DEFAULT_GOAL := $(_kubepki_saved_default_goal)
