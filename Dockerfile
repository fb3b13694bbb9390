# The project's Airflow image: the official one plus what it lacks, and the project itself (Astro's way), so
# compose and any Kubernetes deployment run the DAGs from the image, with no bind mount.
# Installed under the image's own constraints (the image pins its packages, the Celery provider and the
# redis client among them; the host lock is for .venv).
#
# Two targets:
#   prod (the default, last stage): the product only, include/symphonics/; what a deployment runs.
#   dev: prod plus the local stand-ins beside it (the partner's sandbox, the demo data, the dev stack's
#        settings loader), for compose's `dev` profile and its demo seed.
FROM apache/airflow:3.3.2-python3.11 AS base

# Dependencies before code: editing a DAG does not reinstall them.
COPY requirements-image.txt /tmp/requirements-image.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements-image.txt

# The project at the path compose and `make run` put on PYTHONPATH: `include.symphonics` imports everywhere.
ENV SYMPHONICS_PROJECT_DIR=/opt/airflow/project
COPY --chown=airflow:0 airflow_settings.yaml pyproject.toml ${SYMPHONICS_PROJECT_DIR}/
COPY --chown=airflow:0 include/__init__.py ${SYMPHONICS_PROJECT_DIR}/include/
COPY --chown=airflow:0 include/symphonics/ ${SYMPHONICS_PROJECT_DIR}/include/symphonics/
COPY --chown=airflow:0 dags/ ${SYMPHONICS_PROJECT_DIR}/dags/
COPY --chown=airflow:0 plugins/ ${SYMPHONICS_PROJECT_DIR}/plugins/
# The project's own provider (its apache_airflow_provider entry point registers the `symphonics` connection
# type), editable from the copy above: one copy of the code, which compose's development mount overlays.
RUN pip install --no-cache-dir --no-deps -e "${SYMPHONICS_PROJECT_DIR}"
ENV PYTHONPATH=${SYMPHONICS_PROJECT_DIR} \
    AIRFLOW__CORE__DAGS_FOLDER=${SYMPHONICS_PROJECT_DIR}/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=${SYMPHONICS_PROJECT_DIR}/plugins

FROM base AS dev
COPY --chown=airflow:0 include/symphonics_sandbox/ ${SYMPHONICS_PROJECT_DIR}/include/symphonics_sandbox/
COPY --chown=airflow:0 include/symphonics_demo/ ${SYMPHONICS_PROJECT_DIR}/include/symphonics_demo/
COPY --chown=airflow:0 include/symphonics_devstack/ ${SYMPHONICS_PROJECT_DIR}/include/symphonics_devstack/

FROM base AS prod
