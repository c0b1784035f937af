"""charon under the `sanitize` test setup (tests/support/sanitized_test.sh, docs/testing.md).

There, the kernel-espgw plugin is built with AddressSanitizer and UBSan, and charon (not
instrumented) loads it. The sanitizer's runtime must then be the first library in charon's
process, so charon, and charon alone, starts with it in LD_PRELOAD (the lab's other programs are
either instrumented themselves or not ours). Outside the setup (ESPGW_SANITIZER_RUNTIME unset)
every function here returns what it was given.
"""

import os

RUNTIME = os.environ.get("ESPGW_SANITIZER_RUNTIME")


# charon's own printf hooks (%N, %H, %B, ...) are not formats ASan's printf checks know; each
# would be a report of its own (a warning, once per process).
CHARON_OPTIONS = "check_printf=0"


def charon_env():
    """The variables charon starts with under the setup: the runtime first, ASan's options."""
    return {"LD_PRELOAD": RUNTIME,
            "ASAN_OPTIONS": f"{os.environ.get('ASAN_OPTIONS', '')}:{CHARON_OPTIONS}"}


def charon_argv(argv):
    """argv (charon's command line) with the sanitizer runtime preloaded."""
    if not RUNTIME:
        return argv
    return ["env", *(f"{k}={v}" for k, v in charon_env().items()), *argv]


def espgw_up_options(folder):
    """espgw-up's --charon option for a charon started as charon_argv() starts it (a script in
    folder), or [] outside the setup."""
    if not RUNTIME:
        return []
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "charon-sanitized")
    env = " ".join(f"{k}='{v}'" for k, v in charon_env().items())
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# charon with the sanitizer runtime first (tests/labkit/sanitizer.py)\n"
                f"exec env {env} /usr/lib/ipsec/charon \"$@\"\n")
    os.chmod(path, 0o755)
    return ["--charon", path]
