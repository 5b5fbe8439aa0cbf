# The naive single-stage image of the sample app, the way a first Dockerfile
# usually looks: everything copied in, installed in place, run as root.
# Kept only as the baseline for the image-size benchmark; never deployed.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY . /app
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --find-links=/app/wheels -r requirements.txt
ENV PATH=/opt/venv/bin:$PATH
EXPOSE 8000
CMD ["python", "-m", "bluegreen_app"]
