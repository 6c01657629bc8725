"""python3 -m stackless_durable worker REDIS_URL [--concurrency N]"""
import argparse
import sys

from . import worker


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m stackless_durable")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run workflow steps: N Celery worker processes and "
                       "the sweeper (the signing key comes from STACKLESS_DURABLE_KEY)")
    w.add_argument("redis_url")
    w.add_argument("--concurrency", "-c", type=int, default=2, help="worker processes")
    w.add_argument("--stall-after", type=float, default=10.0, metavar="S",
                   help="re-kick a workflow with work to do untouched for S seconds")
    w.add_argument("--sweep-every", type=float, default=2.0, metavar="S",
                   help="look for stalled workflows every S seconds")
    one = sub.add_parser("process", help=argparse.SUPPRESS)
    one.add_argument("redis_url")
    one.add_argument("--name", required=True)
    args = p.parse_args(argv)
    if args.command == "process":
        worker.run_process(args.redis_url, args.name)
        return 0
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    try:
        sup = worker.Supervisor(args.redis_url, args.concurrency, args.stall_after,
                                args.sweep_every)
    except ValueError as exc:
        p.error(str(exc))
    return sup.run()


if __name__ == "__main__":
    sys.exit(main())
