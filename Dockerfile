# Two stages: build a wheel of the service, then install it into a slim runtime image.
FROM python:3.11-slim AS build
WORKDIR /src
# setup.py copies the root openapi.yaml into the wheel's service package.
COPY pyproject.toml setup.py MANIFEST.in README.md openapi.yaml ./
COPY service ./service
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DICOM_RESOLVER_HOST=0.0.0.0 DICOM_RESOLVER_PORT=8080 \
    DICOM_RESOLVER_DATABASE_URL=sqlite:////data/dicom-resolver.sqlite3
RUN useradd --create-home --uid 10001 resolver && mkdir /data && chown resolver /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER resolver
WORKDIR /home/resolver
# Workers, threads, timeouts, JSON logs: read by `dicom-resolver serve` from the working
# directory. Authentication is not baked in: the service refuses to serve unauthenticated
# on 0.0.0.0 until DICOM_RESOLVER_AUTH (api-key, google-id-token) is set at deploy time.
COPY gunicorn.conf.py ./
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
# --no-demo: on Cloud Run or GKE credentials come from the metadata server, which the
# demo-mode check (no key file, no gcloud login) cannot see.
CMD ["dicom-resolver", "serve", "--no-demo"]
