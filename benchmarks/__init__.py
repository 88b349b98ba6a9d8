"""The asgidev benchmark suite (issue 8): ``python -m benchmarks --help``.

Layout: ``apps/`` and ``django_site/`` are the workloads; ``servers.py`` starts
and stops each server; ``load.py`` drives them (wrk or the bundled asyncio
client); ``throughput.py`` interleaves rounds; ``measure_*.py`` cover startup,
memory, reload and the embedding API; ``report.py`` writes JSON, Markdown and
a PNG chart.
"""
