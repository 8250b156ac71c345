# ruff: noqa
# Attack: return an object that turns into whatever the comparison wants: its __reduce__ makes
#   pickling (or copying) it produce True, and its __eq__ agrees with anything; a harness that
#   pickled or copied return values would be fooled.
# Task: HumanEval/0
# Holds in: assert, io
# Must hold: not passed: only plain data crosses, and nothing is ever unpickled.
def has_close_elements(numbers, threshold):
    class Chameleon:
        def __reduce__(self):
            return (bool, (1,))

        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    return Chameleon()
