"""The digital Codecs through the real OFDM PHY (modulator -> AWGN on samples -> streaming demodulator)."""

import numpy as np
from skimage import data

from semcom_ota.baselines.codecs import DigitalImageCodec, DigitalTextCodec
from semcom_ota.baselines.image_codecs import compress_image, decompress_image
from semcom_ota.channel.sim import add_awgn
from semcom_ota.frames import FrameStatus
from semcom_ota.phy import Demodulator, Modulator, PhyConfig


def _over_phy(frame, snr_db, rng):
    cfg = PhyConfig()
    y = add_awgn(np.concatenate([Modulator(cfg).modulate(frame), np.zeros(400, np.complex64)]), snr_db, rng)
    demod = Demodulator(cfg)
    out = demod.feed(y) + demod.flush()
    assert len(out) == 1 and out[0].status is FrameStatus.OK
    return out[0]


def test_image_and_text_digital_over_the_ofdm_phy(rng):
    img = np.ascontiguousarray(data.astronaut()[::8, ::8])  # 64 x 64 x 3
    codec = DigitalImageCodec("webp")
    frame = codec.encode(img, 2000, 22.0)
    rx = _over_phy(frame, 22.0, rng)
    assert rx.meta.codec_id == 5 and rx.meta.flags == 1  # webp, mirrored in the PHY header
    out = codec.decode(rx)
    assert out.tasks["ok"], out.tasks
    expect = decompress_image(compress_image(img, frame.meta.extra["payload_bytes"], "webp").data, "webp")
    assert np.array_equal(out.content, expect)

    text = "Jesus wept. " * 10
    tcodec = DigitalTextCodec("brotli")
    tframe = tcodec.encode(text, 600, 8.0)
    got = tcodec.decode(_over_phy(tframe, 8.0, rng))
    assert got.tasks["ok"] and got.content == text
