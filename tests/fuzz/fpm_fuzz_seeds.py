#!/usr/bin/env python3
"""Writes the seed corpus of fpm_decode_fuzz: each frame captured from FRR 8.4.4
(tests/routing/fpm_samples.jsonl) in a file of its own, and all of them in one stream.
   fpm_fuzz_seeds.py DIR"""
import json, os, sys

samples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "routing", "fpm_samples.jsonl")
frames = [bytes.fromhex(json.loads(line)["frame_hex"]) for line in open(samples) if line.strip()]
for i, f in enumerate(frames + [b"".join(frames)]):
    with open(os.path.join(sys.argv[1], "seed-%d" % i), "wb") as out:
        out.write(f)
