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
#   pki-clean    delete the leaf files, keep the CAs and sa.key/sa.pub;
#                CONFIRM=yes deletes the whole $(OUT) folder
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

# silent: its output is the script (make pki-plan > plan.sh), nothing else. With
# -C DIR (or from another make), make adds its own "Entering directory" lines:
# make -s -C DIR pki-plan > plan.sh
pki-plan:
	@$(KUBEPKI) plan $(if $(_kubepki_spec),--spec $(_kubepki_spec)) $(KUBEPKI_FLAGS)

pki-verify:
	$(KUBEPKI) verify $(_kubepki_args)

pki-renew:
	$(KUBEPKI) renew --all $(_kubepki_args) $(KUBEPKI_RENEW_FLAGS)

# Leaves are reproducible from the CAs; the CAs (ca, etcd/ca, front-proxy-ca)
# and the service-account key pair are not: every node, kubeconfig and token
# that trusts them would have to be re-issued. Hence CONFIRM=yes to delete them.
# The remembered spec (.kubepki/spec.json) stays with them: kubepki without
# SPEC rebuilds the leaves from the spec that made the CAs' PKI.
_kubepki_keep := -name ca.key -o -name ca.crt -o -name ca.srl -o -name '*-ca.key' -o -name '*-ca.crt' \
                 -o -name '*-ca.srl' -o -name sa.key -o -name sa.pub -o -path ./.kubepki/spec.json

# Both forms refuse a folder that is not a kubepki PKI (OUT=. by mistake, …).
_kubepki_guard = case "$(_kubepki_out)" in /|.|..|./|../|$(CURDIR)|$(CURDIR)/) \
	  echo "kubepki: refusing to clean OUT=$(_kubepki_out)"; exit 1;; esac; \
	if [ ! -d $(_kubepki_out) ]; then echo "kubepki: no $(_kubepki_out): nothing to delete"; exit 0; fi; \
	if [ ! -e $(_kubepki_out)/ca.crt ] && [ ! -e $(_kubepki_out)/manifest.json ] && [ ! -d $(_kubepki_out)/.kubepki ]; then \
	  echo "kubepki: $(_kubepki_out) does not look like a kubepki PKI folder (no ca.crt, manifest.json or .kubepki/): not touching it"; exit 1; fi

pki-clean:
ifeq ($(CONFIRM),yes)
	@$(_kubepki_guard); \
	echo "rm -rf -- $(_kubepki_out)"; \
	rm -rf -- $(_kubepki_out) && echo "kubepki: deleted $(_kubepki_out), its CAs and service-account key included."
else
	@$(_kubepki_guard); \
	echo "cd $(_kubepki_out) && find . -mindepth 1 ! -type d ! \( <CA and sa files> \) -delete"; \
	cd $(_kubepki_out) && find . -mindepth 1 ! -type d ! \( $(_kubepki_keep) \) -delete \
	  && find . -mindepth 1 -depth -type d -empty -delete \
	  && kept=$$(find . -mindepth 1 ! -type d | sed 's|^\./||' | sort | tr '\n' ' ') \
	  && if [ -n "$$kept" ]; then \
	    echo "kubepki: deleted the leaf files; kept the CA and service-account files: $$kept"; \
	    echo "kubepki: everything that trusts them would need new certificates. To delete them too, run: $(MAKE) pki-clean CONFIRM=yes"; \
	  fi
endif

# Including this file does not change the including Makefile's default goal.
.DEFAULT_GOAL := $(_kubepki_saved_default_goal)
