#!/usr/bin/env python3
"""PyTorch's own normalization layers on the shapes of a `vknorm bench --json` run.

  pytorch_bench.py run --bench vknorm.json --out torch.json [--device cuda|cpu] ...
  pytorch_bench.py table --bench vknorm.json [--torch torch.json] --out table.md

`run` reads the cases (kind, shape, groups, layout, dtype, pass) from the bench's JSON, so
the two cannot drift apart, and times the PyTorch module that does the same work:
BatchNorm2d (train and eval), LayerNorm, GroupNorm, InstanceNorm2d (track_running_stats,
train and eval) and RMSNorm (torch.nn.RMSNorm, or x * rsqrt(mean(x^2) + eps) * w where
PyTorch has none); forward, and backward (dx, dweight, dbias from a saved forward).
Its JSON has the bench's units: per case "ms" (median) and "min_ms", "gbps" (the bench's
min_bytes over ms).

On CUDA each timed run is one replay of a CUDA graph holding --inner calls, between two
CUDA events, divided by --inner: the GPU's time, as vknorm's timestamps measure it, not
the launch overhead of one eager call (also reported, as "eager_ms"). On the CPU
(--device cpu, for checking this script without a GPU) time.perf_counter times eager calls.

`table` needs no PyTorch: a markdown table per case of vknorm's time, its fraction of the
device's copy bandwidth (1 / the bench's copy_ratio), PyTorch's time and PyTorch / vknorm
(above 1: vknorm is faster).
"""
import argparse
import datetime
import json
import re
import statistics
import sys
import time

# "group_norm G32 2x320x64x64 nchw f32 train_fwd", as the bench's Measured::id() writes it.
CASE_ID = re.compile(r"^(?P<kind>\w+) (?:G(?P<groups>\d+) )?(?P<shape>\d+(?:x\d+)*) "
                     r"(?P<layout>rows|nchw|nhwc) (?P<dtype>f32|f16) (?P<pass>train_fwd|eval_fwd|backward)$")


def parse_case(case_id):
    m = CASE_ID.match(case_id)
    if not m:
        raise ValueError(f"bench case id {case_id!r}: expected 'kind [Gn ]AxBx... layout dtype pass'")
    return {"id": case_id, "kind": m["kind"], "groups": int(m["groups"] or 0),
            "shape": [int(d) for d in m["shape"].split("x")], "layout": m["layout"],
            "dtype": m["dtype"], "pass": m["pass"]}


def read_bench(path):
    with open(path) as f:
        bench = json.load(f)
    if not bench.get("cases"):
        raise ValueError(f"{path}: no 'cases' (expected the output of vknorm bench --json)")
    return bench


def make_module(torch, case):
    """The PyTorch module for a bench case, with vknorm's bench parameters: weight and bias
    (weight only for RMSNorm), tracked running statistics where the kind keeps them, eps 1e-5
    (RMSNorm: PyTorch's default, float32 epsilon, as vknorm's)."""
    nn = torch.nn
    kind, shape = case["kind"], case["shape"]
    if kind == "batch_norm":
        return nn.BatchNorm2d(shape[1], eps=1e-5) if len(shape) == 4 else nn.BatchNorm1d(shape[1], eps=1e-5)
    if kind == "instance_norm":
        cls = nn.InstanceNorm2d if len(shape) == 4 else nn.InstanceNorm1d
        return cls(shape[1], eps=1e-5, affine=True, track_running_stats=True)
    if kind == "group_norm":
        return nn.GroupNorm(case["groups"], shape[1], eps=1e-5)
    if kind == "layer_norm":
        return nn.LayerNorm(shape[-1], eps=1e-5)
    if kind == "rms_norm":
        if hasattr(nn, "RMSNorm"):
            return nn.RMSNorm(shape[-1])
        return RmsNormFormula(torch, shape[-1])
    raise ValueError(f"unknown kind {kind!r}")


def RmsNormFormula(torch, d):
    class RmsNorm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(d))
            self.eps = torch.finfo(torch.float32).eps

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
    return RmsNorm()


def median_and_min(times):  # (median, min) in ms
    return statistics.median(times), min(times)


def time_cpu(fn, warmup, runs, inner):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) * 1e3 / inner)
    return median_and_min(times)


def time_cuda_events(torch, step, runs, inner):
    times = []
    for _ in range(runs):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        step()
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end) / inner)
    return median_and_min(times)


def time_cuda(torch, setup, is_backward, warmup, runs, inner, use_graph):
    """setup() -> (timed call, _): a backward's setup also runs the forward whose saved
    tensors the call reads. Returns (graph ms or None, graph min, eager ms, graph error)."""
    # Warm-up on a side stream first, as PyTorch's graph capture asks (cuDNN handles and
    # algorithm choice, autograd's first pass).
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn, _ = setup()
        for _ in range(max(warmup, 1)):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()

    # Eager: a backward runs on its forward's stream, so the forward is made on this one.
    fn, _ = setup()
    for _ in range(warmup):
        fn()

    def eager():
        for _ in range(inner):
            fn()
    eager_ms, _ = time_cuda_events(torch, eager, runs, inner)
    if not use_graph:
        return None, None, eager_ms, None
    try:
        pool = torch.cuda.graph_pool_handle()
        if is_backward:
            # The forward captured on the graphs' capture stream, so that the backward
            # captured next runs there too (as torch.cuda.make_graphed_callables does).
            forward_graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(forward_graph, pool=pool):
                fn, _ = setup()
            forward_graph.replay()
        else:
            fn, _ = setup()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool):
            for _ in range(inner):
                fn()
        for _ in range(max(warmup, 1)):
            graph.replay()
        torch.cuda.synchronize()
        ms, min_ms = time_cuda_events(torch, graph.replay, runs, inner)
        return ms, min_ms, eager_ms, None
    except Exception as e:  # noqa: BLE001 - any capture failure falls back to eager timing
        torch.cuda.synchronize()
        return None, None, eager_ms, f"{type(e).__name__}: {e}".splitlines()[0]


def case_setup(torch, case, device, param_dtype):
    """A function that builds the tensors and returns (timed call, None)."""
    dtype = torch.float16 if case["dtype"] == "f16" else torch.float32
    memory_format = torch.channels_last if case["layout"] == "nhwc" else torch.contiguous_format
    gen = torch.Generator(device="cpu").manual_seed(1)
    x0 = (torch.rand(case["shape"], generator=gen) * 4.0 - 1.5).to(device=device, dtype=dtype)
    dy0 = (torch.rand(case["shape"], generator=gen) * 2.0 - 1.0).to(device=device, dtype=dtype)
    if len(case["shape"]) == 4:
        x0, dy0 = x0.contiguous(memory_format=memory_format), dy0.contiguous(memory_format=memory_format)
    module = make_module(torch, case).to(device=device, dtype=param_dtype)
    with torch.no_grad():  # the bench's weight 1.25, bias 0.5
        for name, p in module.named_parameters():
            p.fill_(1.25 if name == "weight" else 0.5)
    params = list(module.parameters())

    def setup():
        if case["pass"] == "eval_fwd":
            module.eval()

            def call():
                with torch.no_grad():
                    return module(x0)
            return call, None
        module.train()
        if case["pass"] == "train_fwd":
            def call():
                with torch.no_grad():  # no autograd graph: the forward alone, as vknorm's
                    return module(x0)
            return call, None
        x = x0.detach().requires_grad_(True)
        y = module(x)

        def call():
            return torch.autograd.grad(y, [x] + params, dy0, retain_graph=True)
        return call, y
    return setup


def run_case(torch, case, args):
    device = args.device
    errors = []
    # vknorm keeps parameters in float32 for float16 tensors; PyTorch's kernels take that
    # mix for most kinds. Where one refuses it, the parameters follow the tensor's dtype.
    param_dtypes = [torch.float32] if case["dtype"] == "f32" else [torch.float32, torch.float16]
    for param_dtype in param_dtypes:
        try:
            setup = case_setup(torch, case, device, param_dtype)
            fn, _ = setup()
            fn()  # fails here when the dtype mix is refused
            result = {"id": case["id"], "params": "f16" if param_dtype == torch.float16 else "f32"}
            if device == "cpu":
                ms, min_ms = time_cpu(fn, args.warmup, args.runs, args.inner)
                result.update(ms=ms, min_ms=min_ms, timing="perf_counter, eager")
            else:
                ms, min_ms, eager_ms, graph_error = time_cuda(torch, setup, case["pass"] == "backward", args.warmup,
                                                              args.runs, args.inner, not args.no_graph)
                if ms is None:
                    result.update(ms=eager_ms, min_ms=None, timing="cuda events, eager")
                    if graph_error:
                        result["graph_error"] = graph_error
                else:
                    result.update(ms=ms, min_ms=min_ms, timing="cuda events, cuda graph")
                result["eager_ms"] = eager_ms
            if case.get("min_bytes") and result["ms"] > 0:
                result["gbps"] = case["min_bytes"] / 1e6 / result["ms"]
            return result
        except Exception as e:  # noqa: BLE001 - a refused case is reported, not fatal
            errors.append(f"params {param_dtype}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            if device != "cpu":
                torch.cuda.synchronize()
    return {"id": case["id"], "skipped": "; ".join(errors)}


def command_run(args):
    import torch
    if args.device == "cuda" and not torch.cuda.is_available():
        print("pytorch_bench: CUDA is not available to this PyTorch; use --device cpu", file=sys.stderr)
        return 2
    bench = read_bench(args.bench)
    cases = []
    for c in bench["cases"]:
        case = parse_case(c["id"])
        case["min_bytes"] = c.get("min_bytes")
        if args.kind and case["kind"] not in args.kind.split(","):
            continue
        if args.dtype and case["dtype"] != args.dtype:
            continue
        cases.append(case)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        device_name = torch.cuda.get_device_name()
    else:
        device_name = "cpu"
    results = []
    for case in cases:
        r = run_case(torch, case, args)
        results.append(r)
        shown = f"{r['ms']:.4f} ms ({r['timing']})" if "ms" in r else "skipped: " + r["skipped"]
        print(f"{case['id']:<48} {shown}", flush=True)
    out = {"torch": torch.__version__, "device": device_name, "cuda": torch.version.cuda,
           "rms_norm": "torch.nn.RMSNorm" if hasattr(torch.nn, "RMSNorm") else "formula",
           "runs": args.runs, "warmup": args.warmup, "inner": args.inner,
           "date": datetime.date.today().isoformat(), "bench": args.bench, "cases": results}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    timed = sum("ms" in r for r in results)
    # The last line: what gpu-check.sh puts in summary.md.
    print(f"PyTorch {torch.__version__} on {device_name} (CUDA {torch.version.cuda}), RMSNorm: {out['rms_norm']}; "
          f"{timed} cases timed, {len(results) - timed} skipped; {args.out}")
    return 0


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "–"


def command_table(args):
    bench = read_bench(args.bench)
    torch_cases, torch_info = {}, None
    if args.torch:
        with open(args.torch) as f:
            torch_info = json.load(f)
        torch_cases = {c["id"]: c for c in torch_info["cases"]}
    lines = [f"vknorm on {bench.get('device')} ({bench.get('driver')}), {bench.get('timing')}, "
             f"median of {bench.get('runs')} runs."]
    if torch_info:
        lines.append(f"PyTorch {torch_info['torch']} on {torch_info['device']}, median of "
                     f"{torch_info['runs']} runs of {torch_info['inner']} calls each.")
    lines.append("")
    lines.append("| case | vknorm ms | vknorm GB/s | of copy bandwidth | PyTorch ms | PyTorch / vknorm |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    ratios = []
    for c in bench["cases"]:
        t = torch_cases.get(c["id"], {})
        copy_fraction = 1.0 / c["copy_ratio"] if c.get("copy_ratio") else None
        ratio = t["ms"] / c["ms"] if t.get("ms") and c.get("ms") else None
        if ratio:
            ratios.append(ratio)
        torch_ms = fmt(t.get("ms"), ".4f") if "ms" in t else ("skipped" if "skipped" in t else "–")
        lines.append(f"| {c['id']} | {fmt(c.get('ms'), '.4f')} | {fmt(c.get('gbps'), '.1f')} | "
                     f"{fmt(copy_fraction * 100 if copy_fraction else None, '.0f')}% | {torch_ms} | "
                     f"{fmt(ratio, '.2f')} |")
    lines.append("")
    if ratios:
        geo = statistics.geometric_mean(ratios)
        lines.append(f"PyTorch / vknorm over {len(ratios)} cases: geometric mean {geo:.2f}, "
                     f"min {min(ratios):.2f}, max {max(ratios):.2f} (above 1: vknorm is faster).")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="time PyTorch on the bench's cases")
    run.add_argument("--bench", required=True, help="vknorm bench --json output")
    run.add_argument("--out", required=True, help="JSON to write")
    run.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    run.add_argument("--runs", type=int, default=21, help="timed runs per case (median), as vknorm bench")
    run.add_argument("--warmup", type=int, default=3)
    run.add_argument("--inner", type=int, default=20, help="calls per timed run")
    run.add_argument("--no-graph", action="store_true", help="CUDA: time eager calls only")
    run.add_argument("--kind", help="only these kinds (comma-separated, the bench's names)")
    run.add_argument("--dtype", choices=["f32", "f16"], help="only this dtype")
    table = sub.add_parser("table", help="markdown table joining vknorm's and PyTorch's JSON")
    table.add_argument("--bench", required=True)
    table.add_argument("--torch", help="pytorch_bench.py run output (optional)")
    table.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "run" and (args.runs < 1 or args.inner < 1 or args.warmup < 0):
        parser.error("--runs and --inner: expected >= 1; --warmup: >= 0")
    return command_run(args) if args.command == "run" else command_table(args)


if __name__ == "__main__":
    sys.exit(main())
