# syntax=docker/dockerfile:1
# Two stages. `build` has a C compiler (the full Python image) for the mypyc-compiled core and
# Maven for the jars; it builds the wheel of fwjr-monitor and of every dependency. The runtime
# stage is slim: Python, a Java runtime (Spark), the wheels installed from the build stage with
# no index, and the resolved jars. Both stages are Debian bookworm, so the wheel compiled in the
# first links against the same glibc as the second, and bookworm has openjdk-17.
# docs/deployment.md ("The image"); tests/test_dockerfile.py checks this file's structure.

FROM python:3.11-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends maven && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py ./
COPY sql sql
COPY tools tools
COPY fwjr fwjr
COPY streams streams
COPY batch batch
COPY dashboard dashboard
RUN pip wheel --no-cache-dir --wheel-dir /wheels .
# The replay's spark-avro jars, resolved by Maven now so the runtime needs neither Maven nor the
# network for them. Run from / so that the installed package is imported, not /src.
WORKDIR /
RUN pip install --no-cache-dir --no-index --find-links /wheels fwjr-monitor \
 && FWJR_CACHE_DIR=/jars python -c "from batch.spark_session import avro_jars; avro_jars()"

FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels fwjr-monitor \
 && python -m dashboard.plotly_bundle
COPY --from=build /jars /var/cache/fwjr
ENV FWJR_HOME=/var/lib/fwjr FWJR_CACHE_DIR=/var/cache/fwjr
WORKDIR /var/lib/fwjr
CMD ["fwjr", "--help"]
