"""Enqueue a plainloop run straight into BullMQ from Python, with the `bullmq` package.

    pip install bullmq
    REDIS_URL=redis://localhost:6379 python3 enqueue_with_bullmq.py research '{"topic": "stalled jobs"}' \\
        --idempotency-key job-42

The job is the one the HTTP API would enqueue: queue `plainloop-runs`, prefix `{plainloop}`, job name
`run`, job id = run id, data `{runId, request}` (packages/contracts/schemas/run-job.schema.json), and
the same retry options. Nothing checks the agent or its input before a worker takes the job: a run for
an unknown agent, or with input that does not fit, ends `failed` (POST /v1/runs refuses both at once).
Only the pure part (`run_id_for`, `build_job`) is imported without `bullmq` installed.
"""

import argparse
import asyncio
import hashlib
import json
import os
import secrets

QUEUE_NAME = "plainloop-runs"
JOB_NAME = "run"

# As `runJob` in packages/contracts/src/run-job.ts: the worker relies on these attempts to retry a run
# after an unexpected error, and the removals keep Redis from filling with finished jobs.
JOB_OPTIONS = {
    "attempts": 3,
    "backoff": {"type": "exponential", "delay": 1000},
    "removeOnComplete": {"age": 3600, "count": 10000},
    "removeOnFail": {"age": 7 * 24 * 3600},
}


def queue_prefix(redis_prefix="plainloop"):
    """BullMQ's prefix: the configured PLAINLOOP_REDIS_PREFIX in braces (a Redis Cluster hash tag)."""
    return "{" + redis_prefix + "}"


def run_id_for(tenant_id, idempotency_key=None):
    """As `runIdFor` in @plainloop/contracts, so a retried enqueue lands on the same run and job."""
    if idempotency_key is None:
        return "run_" + secrets.token_hex(16)
    digest = hashlib.sha256(f"{tenant_id}\0{idempotency_key}".encode("utf-8")).hexdigest()
    return "run_" + digest[:32]


def build_job(agent, input, tenant_id="default", idempotency_key=None, thread_id=None, metadata=None):
    """The job id, data and options of a run; the data fits run-job.schema.json."""
    request = {"agent": agent, "input": input, "tenantId": tenant_id}
    if idempotency_key is not None:
        request["idempotencyKey"] = idempotency_key
    if thread_id is not None:
        request["threadId"] = thread_id
    if metadata is not None:
        request["metadata"] = metadata
    job_id = run_id_for(tenant_id, idempotency_key)
    return job_id, {"runId": job_id, "request": request}, {**JOB_OPTIONS, "jobId": job_id}


async def enqueue(redis_url, redis_prefix, job_id, data, opts):
    # Imported here so that the pure functions above work without the package installed.
    from bullmq import Queue

    queue = Queue(QUEUE_NAME, {"connection": redis_url, "prefix": queue_prefix(redis_prefix)})
    try:
        await queue.add(JOB_NAME, data, opts)
    finally:
        await queue.close()
    return job_id


def main():
    parser = argparse.ArgumentParser(description="Enqueue a plainloop run with Python's bullmq.")
    parser.add_argument("agent", nargs="?", default="research")
    parser.add_argument("input", nargs="?", default='{"topic": "stalled jobs"}', help="the input as JSON")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--idempotency-key")
    arguments = parser.parse_args()
    job_id, data, opts = build_job(
        arguments.agent, json.loads(arguments.input), arguments.tenant, arguments.idempotency_key
    )
    redis_url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    redis_prefix = os.environ.get("PLAINLOOP_REDIS_PREFIX", "plainloop")
    print(asyncio.run(enqueue(redis_url, redis_prefix, job_id, data, opts)))


if __name__ == "__main__":
    main()
