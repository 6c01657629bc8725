"""The Celery side: one task, `stackless_durable.step(wid)`, on one queue, with the
settings that make a killed worker lose nothing and a busy one not stall."""
from celery import Celery

QUEUE = "stackless_durable"
STEP_TASK = "stackless_durable.step"


def celery_app(url):
    """A Celery app on the Redis at `url` (the client sends with it, a worker runs it)."""
    app = Celery("stackless_durable", broker=url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_ignore_result=True,
        # The message is acknowledged after the step ran, and given back when the
        # process running it dies, so a step cut short runs again (it commits once).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One task at a time per process (the solo pool), with messages enough in hand
        # that a full prefetch window does not stall the consumer (kombu 5.2 does).
        worker_prefetch_multiplier=32,
        # Unacknowledged messages of a dead consumer come back after this many seconds;
        # the sweeper re-kicks a stalled workflow long before.
        broker_transport_options={"visibility_timeout": 600},
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        accept_content=["json"],
        task_serializer="json",
    )
    return app


def kick(app, wid):
    """Ask a worker to run the workflow `wid` as far as its events allow."""
    app.send_task(STEP_TASK, args=[wid], queue=QUEUE)
