#!/usr/bin/env python3
"""A rank that dies mid-run stops the others, with a message, and leaves the checkpoint whole.

Usage: check_mpi_rank_death.py MPIRUN TEST_NN_DIST MPIRUN_ARGS...
Runs `MPIRUN ARGS TEST_NN_DIST die PATH` (2 ranks train; rank 0 saves after window 3; rank 1
is killed with SIGKILL in window 5), expects a failed run whose output names the dead rank,
then `TEST_NN_DIST verify PATH` (one process) must load the checkpoint and find 3 windows.
"""
import os
import subprocess
import sys
import tempfile

mpirun, prog, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "run.safetensors")
    try:
        r = subprocess.run([mpirun] + args + [prog, "die", path], capture_output=True, text=True,
                           timeout=90)
    except subprocess.TimeoutExpired:
        sys.exit("FAIL: the surviving rank did not stop within 90 s of rank 1's death")
    out = r.stdout + r.stderr
    print(out)
    if r.returncode == 0:
        sys.exit("FAIL: the run exited 0 although rank 1 was killed")
    if "rank 1" not in out:
        sys.exit("FAIL: no message names rank 1")
    left = sorted(os.listdir(tmp))
    if left != ["run.safetensors"]:
        sys.exit(f"FAIL: the folder holds {left}, not the one checkpoint")
    v = subprocess.run([prog, "verify", path], capture_output=True, text=True,
                       env={k: x for k, x in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))})
    print(v.stdout + v.stderr)
    if v.returncode != 0:
        sys.exit("FAIL: the checkpoint written before the death does not load as 3 windows")
print("ok: the run stopped, naming rank 1, and its checkpoint is whole")
