"""Timing helpers for the benchmarks: interleaved rounds, medians, a small table."""
import statistics
import time


def time_call(fn, repeat):
    """Median wall time of ``fn()`` in ms over ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def interleaved(candidates, rounds, repeat):
    """Time several callables in alternating rounds (so machine noise hits all alike).

    Args:
        candidates: {name: callable}; rounds x repeat calls each.
    Returns:
        {name: median ms over the rounds' medians}.
    """
    results = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            results[name].append(time_call(fn, repeat))
    return {name: statistics.median(values) for name, values in results.items()}


def print_table(title, header, rows):
    """Print a Markdown table (benchmarks report to stdout so it can be pasted into the README)."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def against_torch(title, ours, times, digits=0):
    """``print_table``'s arguments for this project against PyTorch eager: ``title`` + machine and thread counts,
    columns ``ours`` (the project's label), ``PyTorch eager`` and their ratio; ``times`` {"ours", "torch"} ms."""
    import os
    import platform

    import torch
    return (f"{title}, ms (median), {platform.machine()}, {os.cpu_count()} cores, torch threads "
            f"{torch.get_num_threads()}", (ours, "PyTorch eager" + (" (no_grad)" if "checkpoint" in ours else ""),
                                           "ratio"),
            [(f"{times['ours']:.{digits}f}", f"{times['torch']:.{digits}f}", f"{times['ours'] / times['torch']:.2f}")])
