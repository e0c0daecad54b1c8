"""Make tests/data/voice.amr: 1.6 s of a voice-like tone (a 200 Hz fundamental with
harmonics and a syllable envelope) at 8 kHz, encoded AMR-NB 12.2 kbit/s as WeChat sends
voice, with PyAV's bundled FFmpeg (libopencore_amrnb). Made once and committed:
`.venv/bin/python tests/data/make_voice_amr.py tests/data/voice.amr`."""

import io
import math
import sys

import av
import numpy as np

RATE = 8000


def main(path: str) -> None:
    t = np.arange(int(RATE * 1.6)) / RATE
    envelope = np.abs(np.sin(math.pi * t / 0.4))  # four "syllables"
    tone = sum(np.sin(2 * math.pi * 200 * k * t) / k for k in range(1, 6))
    samples = (0.3 * envelope * tone / 2.3 * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="amr") as out:
        stream = out.add_stream("libopencore_amrnb", rate=RATE, layout="mono")
        stream.bit_rate = 12200
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with open(path, "wb") as fh:
        fh.write(buffer.getvalue())


if __name__ == "__main__":
    main(sys.argv[1])
