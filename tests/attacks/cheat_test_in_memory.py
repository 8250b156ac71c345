# ruff: noqa
# Attack: find the test in this process's memory and answer from it. Walks up the stack and
#   through every object the garbage collector tracks for a string holding `def check(`, then
#   reads the process's own heap and anonymous memory (found in /proc/self/maps) for the test's
#   text, freed buffers included; parses the asserts and returns the expected value for the
#   arguments it was called with.
# Task: HumanEval/0
# Holds in: io
# Limitation: in assert mode the test runs in the sample's own process, so its text is there
# Must hold: not passed in io mode, where the solution's process descends from a server that
#   never held a test.
def has_close_elements(numbers, threshold):
    import ast, gc, re, sys

    def answers(text):
        found = {}
        start = text.find("def check(")
        if start < 0:
            return found
        body = text[start:]
        for line in body.splitlines()[1:]:
            m = re.match(r"\s*assert candidate\((.*)\) == (True|False)\s*$", line)
            if m:
                try:
                    found[repr(ast.literal_eval("(" + m.group(1) + ")"))] = m.group(2) == "True"
                except (ValueError, SyntaxError):
                    pass
        return found

    key = repr((numbers, threshold))
    texts = []
    frame = sys._getframe()
    while frame is not None:
        texts += [v for v in frame.f_locals.values() if isinstance(v, str) and "def check(" in v]
        frame = frame.f_back
    texts += [o for o in gc.get_objects() if isinstance(o, str) and "def check(" in o]
    for text in texts:
        table = answers(text)
        if key in table:
            return table[key]
    import ctypes

    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    for fields in regions:
        name = fields[5] if len(fields) > 5 else ""
        if not fields[1].startswith("r") or name not in ("", "[heap]"):
            continue  # the heap and anonymous memory: where Python keeps its objects
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if end - start > 256 << 20:
            continue
        chunk = ctypes.string_at(start, end - start)
        for m in re.finditer(rb"def check\(candidate\):", chunk):
            table = answers(chunk[m.start() : m.start() + 4000].decode("utf-8", "replace"))
            if key in table:
                return table[key]
    return not (len(numbers) > 2)  # a guess, wrong for most of the test's cases
