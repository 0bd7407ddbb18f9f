"""Per-event kernel cost in units of one empty tp_btf program measured in the
same run: a thin driver of .output/bench/evcost (make .output/bench/evcost).

    run(trigger, seconds, ref=False, cpu=None) -> dict
        one evcost run ("tcp" or "udp"); its JSON line as a dict:
        trigger, ref, iters, seconds, ns_per_iter[, ref_runs_per_iter]
    units(ns_contender, ns_none, ns_ref) -> float or None
        (contender - none) / (ref - none): what a tracer adds to an
        iteration, in empty hooks; None when the reference added nothing
        measurable (ref <= none, i.e. noise larger than the unit).

The three runs that go into one units() figure should be taken close together
(interleaved, same CPU), since other load on the machine moves ns_per_iter by
more than one unit."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwbench  # noqa: E402

EVCOST = os.path.join(nwbench.OUT, "bench", "evcost")
TRIGGERS = ("tcp", "udp")


def run(trigger, seconds, ref=False, cpu=None):
    if trigger not in TRIGGERS:
        raise ValueError("trigger must be one of %s, not %r" % (TRIGGERS, trigger))
    cmd = [EVCOST, "--trigger=" + trigger, "--seconds=%g" % seconds]
    if ref:
        cmd.append("--ref")
    if cpu is not None:
        cmd.append("--cpu=%d" % cpu)
    # evcost stops itself after its warm-up and S seconds; the margin covers
    # loading the reference program and a slow machine.
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=seconds + 30)
    if r.returncode:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-400:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def units(ns_contender, ns_none, ns_ref):
    unit = ns_ref - ns_none
    if unit <= 0:
        return None
    return (ns_contender - ns_none) / unit
