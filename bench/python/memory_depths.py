"""The depths at which bench_memory.py measures its recursive shape, and bench/report.py
reports it: around the targets' depths (5, 20, 50) and between them, so that a figure
that holds only where a target is set shows (greenlet's cost grows a page at a time,
a tasklet's frame by frame: the ratio peaks just before greenlet's next page)."""
DEPTHS = (5, 10, 20, 25, 50, 100)
# The depths of its shape whose frames no two tasklets share (the issue's targets' depths).
ALONE_DEPTHS = (5, 20, 50)
