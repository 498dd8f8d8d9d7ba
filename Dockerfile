# syntax=docker/dockerfile:1
# One image for every process of the platform; the command chooses which one runs:
#   python -m bff | bff.projector | billing | orders | capture | psp_sim | saas_demo
#   payctl migrate | payctl topics   (the one-shot jobs run before the services)
# docker-compose.yml runs each of them; nothing in the image says which.

# Both stages on the same Python: the venv's interpreter is the base image's, by path.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# The uv the Makefile pins (UV_VERSION): the image reads uv.lock as `make install` does.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# The venv at the path it has in the final stage (its scripts' #! lines name it); bytecode
# compiled here once, so no process compiles its imports at start (PYTHONDONTWRITEBYTECODE
# below would make every start pay for it again); copies, not links, out of the cache mount.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11
WORKDIR /src
# The third-party dependencies first, from the lock and the manifests alone: this layer is
# rebuilt when they change, not at every change of the code.
COPY pyproject.toml uv.lock ./
COPY schemas/pyproject.toml schemas/
COPY paykit/pyproject.toml paykit/
COPY bff/pyproject.toml bff/
COPY billing-consumer/pyproject.toml billing-consumer/
COPY order-consumer/pyproject.toml order-consumer/
COPY capture-consumer/pyproject.toml capture-consumer/
COPY psp-sim/pyproject.toml psp-sim/
COPY saas-demo/pyproject.toml saas-demo/
COPY payctl/pyproject.toml payctl/
# --frozen: uv.lock as committed, never re-resolved; --no-dev: no test or lint tools;
# --all-packages: every workspace member (the root project only depends on payctl).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --all-packages --no-install-workspace
COPY schemas/ schemas/
COPY paykit/ paykit/
COPY bff/ bff/
COPY billing-consumer/ billing-consumer/
COPY order-consumer/ order-consumer/
COPY capture-consumer/ capture-consumer/
COPY psp-sim/ psp-sim/
COPY saas-demo/ saas-demo/
COPY payctl/ payctl/
# --no-editable: the members are built and installed into the venv, so the final stage needs
# the venv only, not this source tree. --no-cache: uv keys a built member by the mtime of its
# pyproject.toml, so a build kept in the cache mount would be installed again after the code
# changed.
RUN uv sync --frozen --no-dev --no-editable --all-packages --no-cache

FROM ${PYTHON_IMAGE}
# Nothing writes bytecode at run time (it was compiled in the build stage, and the venv is not
# the service user's to write); log lines leave the process as they are written.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# A fixed uid, so volumes and a Kubernetes securityContext (runAsUser) can name it.
RUN groupadd --system --gid 10001 payments \
    && useradd --system --uid 10001 --gid payments --create-home --home-dir /home/payments \
        --shell /usr/sbin/nologin payments
# Only the venv: no uv, no compiler, no source tree. Owned by root, read-only to the services.
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/payments
# The BFF's API, psp-sim's, saas-demo's, and the health ports the projector and the consumers are given in
# docker-compose.yml (payctl's defaults).
EXPOSE 8000 8010 8030 9101 9102 9103 9104
# /healthz of whichever process runs: HEALTH_PORT, else BFF_PORT, else PSP_PORT (paykit.probe).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "paykit.probe"]
CMD ["payctl", "--help"]
