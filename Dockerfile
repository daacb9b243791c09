# One image for the worker and the dashboard (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home loglytics
USER loglytics
EXPOSE 8501
CMD ["loglytics", "worker"]
