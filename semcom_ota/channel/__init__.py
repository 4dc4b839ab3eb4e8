"""semcom_ota.channel: the sample-level channel simulator (NumPy, :mod:`.sim`) and the
differentiable channel twin for training codecs (torch, :mod:`.twin`, imported on demand)."""

from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator, add_awgn, channels, preset_config, tdl_taps

__all__ = ["ChannelConfig", "ChannelSimulator", "add_awgn", "channels", "preset_config", "tdl_taps"]
