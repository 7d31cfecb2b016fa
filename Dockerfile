# kubepki bootstrap container: writes a cluster PKI into the /pki volume.
#
#   docker build -t kubepki .
#   mkdir -p pki
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/pki:/pki" \
#       -v "$PWD/cluster.yaml:/cluster.yaml:ro" kubepki generate --spec /cluster.yaml --out /pki
#
# Nothing secret is baked in: the build context is an allow-list (.dockerignore),
# every COPY below names its sources, and no key or spec exists in any layer.
# The spec is read from a mounted file; keys are written only into the volume.

# ---- build stage: dev dependencies, tsc, npm pack --------------------------
FROM node:20.20.2-bookworm-slim AS build
# openssl: the build's training run (scripts/build.mjs) generates a throw-away PKI
# in /tmp, removed by the same step, to make node's code cache for kubepki
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json kubepki.mk ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
# Build, then pack: the image gets exactly the files of the npm package
# (package.json "files"), and production dependencies from the lockfile.
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir -p /opt/kubepki \
 && tar -xzf /tmp/kubepki-*.tgz -C /opt/kubepki --strip-components=1 \
 && cp package-lock.json /opt/kubepki/ \
 && cd /opt/kubepki \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && chmod 0755 dist/cli.js \
 && chmod -R a+rX,go-w /opt/kubepki

# ---- runtime stage: node, Debian's openssl, the built package --------------
FROM node:20.20.2-bookworm-slim
# openssl: the real binary kubepki drives. npm, npx, corepack and yarn are
# removed: the runtime needs only node. /pki is the volume, owned by the
# unprivileged node user (uid 1000) so an anonymous volume is writable too.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-v* \
 && mkdir -m 0700 /pki \
 && chown 1000:1000 /pki
COPY --from=build /opt/kubepki /opt/kubepki
RUN ln -s /opt/kubepki/dist/cli.js /usr/local/bin/kubepki \
 && openssl version \
 && kubepki --version
ENV NODE_ENV=production \
    KUBEPKI_OPENSSL=/usr/bin/openssl
# WORKDIR / makes kubepki's default --out (./pki) the volume.
WORKDIR /
VOLUME /pki
# uid 1000 is the image's "node" user; numeric so runAsNonRoot can check it.
USER 1000:1000
# umask 077 before kubepki starts: anything it or openssl creates is private
# to the container user. Arguments pass through unchanged ("$@").
ENTRYPOINT ["/bin/sh", "-c", "umask 077 && exec kubepki \"$@\"", "kubepki"]
CMD ["generate", "--out", "/pki"]
