# A long computation on tasklets that survives being killed: every few rounds the main
# tasklet checkpoints every tasklet (stackless.checkpoint); started again, the program
# continues from its last checkpoint (stackless.restore_checkpoint) to the same result.
#
#   python3 checkpoint_demo.py [--crash-after K] [--checkpoint FILE]
#
# Workers sum f(i) over their share of range(N), yielding (schedule()) after every item;
# they send their sums to a collector tasklet, blocked on a channel meanwhile. With
# --crash-after K the process SIGKILLs itself right after its K-th checkpoint.
import os
import signal
import sys

import stackless

N = 3000
WORKERS = 4
EVERY = 50  # scheduler rounds between checkpoints

def f(i):
    return (i * i + 7 * i) % 1009


def worker(k, results):
    acc = 0
    i = k
    while i < N:
        acc += f(i)
        i += WORKERS
        stackless.schedule()
    results.send((k, acc))


def collector(box, results):
    sums = {}
    while len(sums) < WORKERS:
        k, acc = results.receive()
        sums[k] = acc
    box.append(sum(sums.values()))


def main():
    path = 'checkpoint.pickle'
    crash_after = None
    args = sys.argv[1:]
    while args:
        if args[0] == '--crash-after':
            crash_after = int(args[1])
        elif args[0] == '--checkpoint':
            path = args[1]
        args = args[2:]
    if os.path.exists(path):
        box, rounds = stackless.restore_checkpoint(path)
        print('restored at round', rounds)
    else:
        box, rounds = [], 0
        # The channel travels in the tasklets' frames (a module global would not be
        # part of a checkpoint: the restored tasklets must share the restored channel).
        results = stackless.channel()
        stackless.tasklet(collector)(box, results)
        for k in range(WORKERS):
            stackless.tasklet(worker)(k, results)
    done = 0
    while not box:
        stackless.schedule()
        rounds += 1
        if rounds % EVERY == 0:
            stackless.checkpoint(path, (box, rounds))
            done += 1
            print('checkpoint at round', rounds, flush=True)
            if crash_after is not None and done >= crash_after:
                os.kill(os.getpid(), signal.SIGKILL)
    print('result', box[0])
    if os.path.exists(path):
        os.remove(path)


if __name__ == '__main__':
    main()
