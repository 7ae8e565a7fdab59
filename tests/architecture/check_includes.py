#!/usr/bin/env python3
"""tests/architecture/check_includes.py: the module graph of docs/architecture.md,
checked against the sources' #include lines.

  check_includes.py ROOT          fails (exit 1) naming every include a module must not have
  check_includes.py --self-test   shows that a forbidden include is caught

Rules (docs/architecture.md, the module table):
  * a module includes only the alro modules below it (ALLOWED);
  * config/, data/ and common/ (but common/torch_compat.h, header only) never
    include LibTorch; config/, common/ and data/ never include MPI, except the
    separate alro_convert_mpi library (data/converters/convert_mpi.*);
  * losses/metrics.* and losses/ranking_jsonl.* (alro_metrics) stay torch-free;
  * common/torch_compat.h is included only by modules that link LibTorch.
"""
import os
import re
import sys
import tempfile

MODULES = ["common", "config", "data", "distributed", "core", "losses", "train", "launch"]
ALLOWED = {
    "common": {"common"},
    "config": {"common", "config"},
    "data": {"common", "config", "data"},
    "distributed": {"common", "distributed"},
    "core": {"common", "config", "distributed", "core"},
    "losses": {"common", "config", "distributed", "losses"},
    "train": {"common", "config", "core", "data", "distributed", "losses", "train"},
    "launch": set(MODULES),
}
TORCH = re.compile(r"^(torch|ATen|c10)/")
MPI = re.compile(r"^mpi\.h$")
TORCH_FREE = {"common", "config", "data"}
MPI_FREE = {"common", "config", "data"}
TORCH_FREE_FILES = re.compile(r"^losses/(metrics|ranking_jsonl)\.(h|cc)$")
TORCH_ALLOWED_FILES = {"common/torch_compat.h"}
MPI_ALLOWED_FILES = re.compile(r"^data/converters/convert_mpi\.(h|cc)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE = re.compile(r"\.(h|cc|cpp|hpp)$")


def violations(root):
    found = []
    for module in MODULES:
        for dirpath, _, files in os.walk(os.path.join(root, module)):
            for name in sorted(files):
                if not SOURCE.search(name):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(2)
                        where = f"{rel}:{number}: includes {target}"
                        top = target.split("/")[0]
                        if m.group(1) == '"' and top in MODULES and top not in ALLOWED[module]:
                            found.append(f"{where}: {module}/ must not include {top}/")
                        if TORCH.match(target):
                            torch_free = module in TORCH_FREE and rel not in TORCH_ALLOWED_FILES
                            if torch_free or TORCH_FREE_FILES.match(rel):
                                found.append(f"{where}: {rel} must stay free of LibTorch")
                        if MPI.match(target) and module in MPI_FREE and not MPI_ALLOWED_FILES.match(rel):
                            found.append(f"{where}: {module}/ must stay free of MPI")
                        if target == "common/torch_compat.h" and module in TORCH_FREE and rel not in TORCH_ALLOWED_FILES:
                            found.append(f"{where}: {module}/ does not link LibTorch")
    return found


def self_test():
    """A tree with one allowed and four forbidden includes: all four must be found."""
    files = {
        "core/ok.cc": '#include "distributed/communicator.h"\n#include <ATen/ATen.h>\n',
        "core/bad.cc": '#include "data/loader.h"\n',
        "config/bad.cc": "#include <torch/torch.h>\n",
        "losses/metrics.cc": "#include <ATen/ATen.h>\n",
        "data/bad.h": '#include "common/torch_compat.h"\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        found = violations(root)
    expected = ["core/bad.cc:1", "config/bad.cc:1", "losses/metrics.cc:1", "data/bad.h:1"]
    missing = [e for e in expected if not any(v.startswith(e) for v in found)]
    if missing or len(found) != len(expected):
        print("self-test failed: found", found, "missing", missing)
        return 1
    print(f"self-test: {len(found)} violations caught, the allowed include passed")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__)
        return 2
    found = violations(argv[1])
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} include(s) break the module graph of docs/architecture.md")
        return 1
    print("module graph of docs/architecture.md holds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
