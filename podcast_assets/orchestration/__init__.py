"""How and when the assets run: partitions, the daily job and schedule, sensors, execution policies, and the
deployment (local or production resources, in-process or Celery/Kubernetes executor)."""
