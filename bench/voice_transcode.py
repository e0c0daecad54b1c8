"""What keeping her voice as MP3 costs the worker: AMR-NB (as WeChat sends it) → MP3,
per second of voice, against decoding alone.

    .venv/bin/python bench/voice_transcode.py [--seconds 60] [--rounds 20]

The input is tests/data/voice.amr (1.6 s, real AMR-NB) repeated to --seconds (AMR frames
follow one another after the one header). Print beside `uptime`'s load average.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402

from bot.media import Fetched, playable  # noqa: E402

HEADER = b"#!AMR\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    frames = (Path(__file__).resolve().parent.parent / "tests" / "data" / "voice.amr").read_bytes()[len(HEADER):]
    voice = HEADER + frames * max(1, round(args.seconds / 1.62))

    def decode_only() -> None:
        with av.open(io.BytesIO(voice)) as source:
            for _ in source.decode(audio=0):
                pass

    def transcode() -> bytes:
        return playable(Fetched(voice, "audio/amr")).content

    mp3 = transcode()
    timings = {}
    for name, work in (("decode", decode_only), ("transcode", transcode)):
        started = time.process_time()
        for _ in range(args.rounds):
            work()
        timings[name] = (time.process_time() - started) / args.rounds
    seconds = len(frames) * max(1, round(args.seconds / 1.62)) / 32 * 0.02  # 32-byte frames of 20 ms (12.2 kbit/s)
    print(f"voice {seconds:.1f} s: AMR {len(voice)} bytes → MP3 {len(mp3)} bytes")
    print(f"decode only   {timings['decode'] * 1000:.1f} ms CPU")
    print(f"transcode     {timings['transcode'] * 1000:.1f} ms CPU "
          f"({timings['transcode'] / seconds * 1000:.2f} ms per second of voice, "
          f"{timings['transcode'] / timings['decode']:.1f}× decoding alone)")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
