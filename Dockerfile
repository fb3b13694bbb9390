# The project's Airflow image: the official one plus only what it lacks.
# Installed under the image's own constraints (the image pins its packages; the host lock is for .venv).
FROM apache/airflow:3.3.2-python3.11

COPY requirements-image.txt /tmp/requirements-image.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements-image.txt
