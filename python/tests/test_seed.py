"""The seed's cooperative-multitasking example prints the six lines of the core issue."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

EXPECTED = [
    "Receiving tasklet started",
    "Sending tasklet started",
    "send from sending_tasklet",
    "Receiving tasklet finished",
    "Just another tasklet in the scheduler",
    "sending tasklet finished",
]


def test_seed_coop_prints_the_six_lines_in_order(stack_kind):
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c",
         f"import stackless; stackless.set_default_stack_kind({stack_kind!r}); "
         f"exec(open({str(ROOT / 'examples' / 'seed_coop.py')!r}).read())"],
        env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == EXPECTED
    assert out.stderr == ""


def test_seed_coop_file_is_the_seed_verbatim():
    seed = pathlib.Path("/work/shared/seed/seed_coop.py")
    if seed.exists():
        assert (ROOT / "examples" / "seed_coop.py").read_text() == seed.read_text()
